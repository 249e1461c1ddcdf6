"""Which isolation this host offers, and the command line that starts the jailed child."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from backtesting.sandbox.seccomp_filter import build_filter_bpf

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Only the Django-free code the child imports is visible in the jail: never settings, models,
# .env files or the rest of the project.
JAIL_APP_DIR = "/app"
JAIL_PATHS = (
    "backtesting/__init__.py",
    "backtesting/engine",
    "backtesting/sandbox",
    "strategies/paramspec",
    "strategies/__init__.py",
    "strategies/validation",
)
NOBODY = 65534
BWRAP_CANDIDATES = ("/usr/bin/bwrap", "/usr/local/bin/bwrap")
PROBE_TIMEOUT_SECONDS = 10.0

# OpenBLAS would otherwise start one thread per core at import, which breaks the
# "single-threaded before seccomp" assumption and skews the CPU limit.
CHILD_ENV = {
    "LANG": "C.UTF-8",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
    # glibc hands each array over 128 KB its own mmap and returns freed heap above 128 KB to
    # the kernel, so every combination of a sweep on 100,000 bars faulted in its ~6 MB of
    # arrays afresh (~1,500 page faults, half its time). Kept in the heap, a child reuses
    # what the previous combination freed; it exits after one job, and RLIMIT_AS still caps
    # its address space (docs/sandbox.md, "Memory").
    "GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824",
}


@functools.cache
def find_bwrap() -> str | None:
    """Path of a bubblewrap that can actually create namespaces here (probed once)."""
    candidates = [shutil.which("bwrap"), *BWRAP_CANDIDATES]
    for path in dict.fromkeys(p for p in candidates if p):
        if Path(path).is_file() and _bwrap_works(path):
            return path
    return None


def _bwrap_works(path: str) -> bool:
    # The probe mounts exactly what a real run mounts: with the binds in another order a
    # venv under /tmp would be hidden by the jail's private /tmp.
    argv = [path, *_namespace_args(), *_jail_mounts(), "--", sys.executable, "-I", "-c", "0"]
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            argv, env={}, capture_output=True, timeout=PROBE_TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    if done.returncode != 0:
        logger.warning("bubblewrap at %s is unusable: %s", path, done.stderr[-500:])
    return done.returncode == 0


@functools.cache
def isolation_level() -> str:
    """'bubblewrap+seccomp' | 'bubblewrap' | 'rlimits' — what this host enforces (logged once).

    Cached: the host's capabilities do not change while a process runs, and /health asks
    for it on every poll.
    """
    if find_bwrap() is None:
        level = "rlimits"
    elif build_filter_bpf() is not None:
        level = "bubblewrap+seccomp"
    else:
        level = "bubblewrap"
    logger.info("strategy sandbox isolation level: %s", level)
    return level


def drop_to_uid() -> int | None:
    """The uid the child switches to before user code runs (None: already unprivileged)."""
    return NOBODY if os.geteuid() == 0 else None


def child_command(bootstrap: str) -> list[str]:
    """argv for the child: the interpreter under bubblewrap when available, else bare.

    `python -I -B -c bootstrap <import root> [<parent pid>]`: without bubblewrap's
    --die-with-parent the child checks that this process is still its parent itself.
    """
    python = [sys.executable, "-I", "-B", "-c", bootstrap]
    bwrap = find_bwrap()
    if bwrap is None:
        return [*python, str(PROJECT_ROOT), str(os.getpid())]
    return [
        bwrap,
        *_namespace_args(),
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        *[arg for key, value in CHILD_ENV.items() for arg in ("--setenv", key, value)],
        *_jail_mounts(),
        "--",
        *python,
        JAIL_APP_DIR,
    ]


@functools.cache
def _jail_mounts() -> tuple[str, ...]:
    # Fixed for the life of the process (the interpreter, the venv and the checkout do not
    # move), and reading them walks the file system: 1.5 ms a job, before any job starts.
    binds = [*_python_binds(), *_project_binds()]
    return (*_system_binds(), *_parent_dirs(binds[2::3]), *binds)


def _parent_dirs(targets: list[str]) -> list[str]:
    """World-traversable parents for the bind targets.

    bubblewrap creates missing parents as 0700 root-owned directories, which the child can no
    longer enter once it has dropped to "nobody", so lazy imports would fail.
    """
    parents: dict[str, None] = {}
    for target in targets:
        for parent in reversed(Path(target).parents):
            if str(parent) != "/" and not Path(str(parent)).is_relative_to("/usr"):
                parents[str(parent)] = None
    return [arg for parent in parents for arg in ("--perms", "0755", "--dir", parent)]


def _namespace_args() -> list[str]:
    if os.geteuid() == 0:
        # As real root, a user namespace would map the jail to host uid 0, which is exempt from
        # RLIMIT_NPROC. Without one the launcher drops to host "nobody" instead (see child.py).
        return ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                "--unshare-cgroup-try"]  # fmt: skip
    return ["--unshare-all", "--cap-drop", "ALL"]


def _system_binds() -> list[str]:
    # No /etc, /home, /proc, /sys or /run: nothing there is needed to run Python and NumPy.
    # A private, empty tmpfs inside the jail, not the host /tmp.
    args = ["--ro-bind", "/usr", "/usr", "--tmpfs", "/tmp", "--chdir", "/tmp"]  # noqa: S108
    for top in ("/bin", "/lib", "/lib64", "/sbin"):
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", str(path.readlink()), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    for device in ("/dev/null", "/dev/urandom"):
        args += ["--dev-bind", device, device]
    return args


def _python_binds() -> list[str]:
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        roots.add(Path(sysconfig.get_paths()[key]).resolve())
    # Python finds its venv (pyvenv.cfg, site-packages) from the path it was started by, so a
    # venv reached through a symlink must also be visible at that unresolved path.
    roots |= {Path(sys.executable).parent, Path(sys.prefix)}
    return [
        arg for root in sorted(_outermost(roots)) for arg in ("--ro-bind", str(root), str(root))
    ]


def _outermost(paths: set[Path]) -> set[Path]:
    """Drop paths nested inside another one and anything already under the /usr bind."""
    kept = {p for p in paths if not any(p != q and p.is_relative_to(q) for q in paths)}
    return {p for p in kept if not p.is_relative_to("/usr")}


def _project_binds() -> list[str]:
    args: list[str] = []
    for relative in JAIL_PATHS:
        args += ["--ro-bind", str(PROJECT_ROOT / relative), f"{JAIL_APP_DIR}/{relative}"]
    return args
