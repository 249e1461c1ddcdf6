"""The OS layers on their own: raw Python run in the jail after the launcher's lockdown.

This simulates an attacker who has fully escaped RestrictedPython and the facades: whatever
they do, the jail (bubblewrap namespaces, dropped uid, rlimits, seccomp) must hold.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from typing import Any

import pytest

from backtesting.sandbox import isolation_level
from backtesting.sandbox.isolation import CHILD_ENV, child_command, drop_to_uid, find_bwrap
from backtesting.sandbox.limits import SandboxLimits
from backtesting.sandbox.seccomp_filter import build_filter_bpf
from tests.sandbox.conftest import (
    MARKER,
    PROJECT_ROOT,
    SECRET,
    as_zygote_program,
    zygote_job_output,
)

PROBE = r"""
import sys
sys.path.insert(0, sys.argv[1])
import ctypes, json, os, resource, socket, threading
from backtesting.sandbox.child import _lock_down
header = json.loads(sys.stdin.readline())
port = header.pop("port")
_lock_down(header, keep_fd=1)
out = {}
def attempt(name, fn):
    try:
        out[name] = "ALLOWED: %r" % (fn(),)
    except BaseException as exc:
        out[name] = "denied: %s" % type(exc).__name__
def connect():
    s = socket.create_connection(("127.0.0.1", port), timeout=1)
    return s.fileno()
attempt("socket", lambda: socket.socket().fileno())
attempt("connect", connect)
attempt("fork", os.fork)
attempt("exec", lambda: os.execv("/bin/true", ["true"]))
attempt("write_tmp", lambda: open("/tmp/%s" % header["marker"], "w").write("x"))
attempt("write_app", lambda: open("/app/%s" % header["marker"], "w").write("x"))
attempt("write_cwd", lambda: open(header["marker"], "w").write("x"))
attempt("mkdir", lambda: os.mkdir("/tmp/" + header["marker"]))
attempt("read_settings", lambda: open(header["settings"]).read(10))
attempt("read_passwd", lambda: open("/etc/passwd").read(10))
attempt("read_proc", lambda: open("/proc/1/environ").read(10))
attempt("kill_parent", lambda: os.kill(header["parent"], 9))
attempt("setuid_root", lambda: os.setuid(0))
libc = ctypes.CDLL(None, use_errno=True)
def c_call(function, *args):
    if function(*args) == -1:
        raise OSError(ctypes.get_errno(), function.__name__)
    return "created"
# IPC objects outlive a process in the jail's IPC namespace, which a zygote's children share.
KEY, CREATE = 0x7470, 0o1600  # IPC_CREAT | 0600
attempt("sysv_shm", lambda: c_call(libc.shmget, KEY, 4096, CREATE))
attempt("sysv_msg", lambda: c_call(libc.msgget, KEY, CREATE))
attempt("sysv_sem", lambda: c_call(libc.semget, KEY, 1, CREATE))
attempt("posix_mq", lambda: c_call(libc.mq_open, b"/tp_mq", os.O_CREAT | os.O_RDWR, 0o600, None))
attempt("sethostname", lambda: c_call(libc.sethostname, b"tp", 2))
# Signals and scheduling aimed at a process: on itself the kernel allows them, so only the filter
# refuses; aimed at the zygote (same uid under a user namespace) they would reach the next job.
attempt("tgkill", lambda: c_call(libc.tgkill, os.getpid(), threading.get_native_id(), 0))
attempt("setpriority", lambda: c_call(libc.setpriority, 0, 0, 19))
attempt("prlimit_parent", lambda: c_call(libc.prlimit, os.getppid(), 7, None, None))
attempt("affinity_parent", lambda: os.sched_setaffinity(os.getppid(), {0}))
def reuse_faults():
    # A job's arrays come and go (a sweep's every combination): a freed 4 MB buffer must be
    # reused, not handed back to the kernel and faulted in page by page again.
    del bytearray(4 << 20)[:]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    del bytearray(4 << 20)[:]
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
out["reuse_faults"] = reuse_faults()
out["setrlimit_self"] = resource.setrlimit(resource.RLIMIT_CORE, (0, 0)) or "allowed"
out["env"] = dict(os.environ)
out["uid"] = os.getresuid()
out["rlimits"] = {n: resource.getrlimit(getattr(resource, n))
                  for n in ("RLIMIT_NPROC", "RLIMIT_FSIZE", "RLIMIT_CORE", "RLIMIT_NOFILE",
                            "RLIMIT_CPU", "RLIMIT_AS")}
out["seccomp_mode"] = ctypes.CDLL(None).prctl(21, 0, 0, 0, 0)
print(json.dumps(out), flush=True)
os._exit(0)
"""


def probe_jail(listener: socket.socket, limits: SandboxLimits, kind: str) -> dict[str, Any]:
    """PROBE's report from a fresh jailed process, or from a child forked by a zygote."""
    header = {
        "limits": limits.to_dict(),
        "drop_uid": drop_to_uid(),
        "seccomp_bpf": None,
        "port": listener.getsockname()[1],
        "marker": MARKER,
        "settings": str(PROJECT_ROOT / "tradeplatform" / "settings.py"),
        "parent": os.getpid(),
    }
    program = build_filter_bpf()
    if program and find_bwrap():
        import base64

        header["seccomp_bpf"] = base64.b64encode(program).decode()
    request = json.dumps(header) + "\n"
    if kind == "zygote":
        return zygote_job_output(as_zygote_program(PROBE), request)
    done = subprocess.run(
        child_command(PROBE), input=request, capture_output=True, text=True, timeout=30,
        env=dict(CHILD_ENV), cwd="/tmp", check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def jail(listener: socket.socket, no_new_files: None, child_kind: str) -> dict[str, Any]:
    limits = SandboxLimits(cpu_seconds=3, memory_bytes=512 * 1024 * 1024)
    report = probe_jail(listener, limits, child_kind)
    with pytest.raises(BlockingIOError):
        listener.accept()  # nothing ever connected to the loopback service
    return report


def test_isolation_level_on_this_host_is_reported() -> None:
    assert isolation_level() in {"bubblewrap+seccomp", "bubblewrap", "rlimits"}


@pytest.mark.parametrize(
    "attempt",
    ["socket", "connect", "fork", "exec", "write_tmp", "write_app", "write_cwd", "mkdir",
     "read_settings", "read_passwd", "read_proc", "kill_parent", "setuid_root",
     "sysv_shm", "sysv_msg", "sysv_sem", "posix_mq", "sethostname", "tgkill", "setpriority",
     "prlimit_parent", "affinity_parent"],
)  # fmt: skip
def test_an_escaped_attacker_is_still_denied(jail: dict[str, Any], attempt: str) -> None:
    assert jail[attempt].startswith("denied"), jail[attempt]


def test_the_jail_environment_holds_no_secrets(jail: dict[str, Any]) -> None:
    assert SECRET not in json.dumps(jail)
    # bubblewrap adds PWD after its chdir; nothing else beyond what we set.
    assert set(jail["env"]) <= {*CHILD_ENV, "PWD"}


def test_freed_memory_is_reused_without_page_faults(jail: dict[str, Any]) -> None:
    # 4 MB is 1,024 pages: glibc's defaults (a buffer that size gets its own mmap, unmapped
    # when freed) would fault every one of them in again.
    assert jail["reuse_faults"] < 64, jail["reuse_faults"]


def test_a_process_may_still_lower_its_own_limits(jail: dict[str, Any]) -> None:
    # glibc's setrlimit() is prlimit64(0, ...): the batch runner lowers its CPU share this way.
    assert jail["setrlimit_self"] == "allowed"


def test_rlimits_are_set_before_user_code(jail: dict[str, Any]) -> None:
    limits = jail["rlimits"]
    assert limits["RLIMIT_NPROC"] == [0, 0]
    assert limits["RLIMIT_FSIZE"] == [0, 0]
    assert limits["RLIMIT_CORE"] == [0, 0]
    assert limits["RLIMIT_CPU"] == [3, 4]
    assert limits["RLIMIT_AS"] == [512 * 1024 * 1024] * 2


def test_the_child_never_runs_as_root(jail: dict[str, Any]) -> None:
    assert 0 not in jail["uid"]


def test_seccomp_is_active_when_the_level_says_so(jail: dict[str, Any]) -> None:
    expected = 2 if isolation_level() == "bubblewrap+seccomp" else 0
    assert jail["seccomp_mode"] == expected
