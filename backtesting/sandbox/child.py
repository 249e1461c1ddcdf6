"""The jailed side: the launcher stage, then the user's strategy on the engine.

Runs as `python -I -B -c BOOTSTRAP <import root> [<parent pid>]` inside bubblewrap when the
host has it, or as a child forked by the worker's zygote (zygote_jailed.py), which has done
the imports already. Order matters: read the payload and import everything trusted first, then
drop privileges, set rlimits, close stray descriptors and install seccomp, and only then
compile and run the user's code. stdout is the protocol channel, so fd 1 is pointed at
/dev/null and the channel lives on a private descriptor nothing else can reach.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
from base64 import b64decode
from collections.abc import Callable
from typing import Any, BinaryIO, NoReturn

from backtesting.sandbox.seccomp_filter import install_filter
from backtesting.sandbox.wire import decode_payload, encode_message

BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from backtesting.sandbox.child import main; main()"
)
EXIT_PROTOCOL = 2
EXIT_MEMORY = 3
EXIT_LOCKDOWN = 4
PR_SET_PDEATHSIG = 1


def main() -> None:
    """Entry point of a freshly started child process; never returns."""
    parent = int(sys.argv[2]) if len(sys.argv) > 2 else None
    run_one_job(parent)


def run_one_job(parent: int | None) -> NoReturn:
    """Read the job from stdin, lock down, run it, report on stdout, exit.

    `parent`: the pid this process must still be a child of once PDEATHSIG is armed (None
    under bubblewrap, whose --die-with-parent covers the worker).
    """
    channel = _take_protocol_channel()
    die_with_parent(parent)
    try:
        header, columns = decode_payload(sys.stdin.buffer)
        sys.stdin.close()
    except (ValueError, KeyError, OSError):
        os._exit(EXIT_PROTOCOL)
    from backtesting.sandbox import batch_runner, runner  # heavy imports before the lockdown

    # One parameter set, or a batch of them (docs/sandbox.md, "Batches"): the same lockdown.
    job = batch_runner.run_batch if header.get("mode") == "batch" else runner.run_job

    try:
        _lock_down(header, keep_fd=channel.fileno())
    except OSError as exc:
        os.write(2, f"sandbox lockdown failed: {exc}\n".encode())
        os._exit(EXIT_LOCKDOWN)
    _finish(channel, lambda: job(header, columns, _progress_sender(channel)))


def _finish(channel: BinaryIO, job: Callable[[], dict[str, Any]]) -> NoReturn:
    try:
        # From here on the user's code is what runs: the worker counts a crash as the user's.
        channel.write(encode_message({"type": "started"}))
        message = job()
        channel.write(final_bytes({**message, "usage": _own_usage()}))
        channel.flush()
    except MemoryError:
        os._exit(EXIT_MEMORY)
    except BrokenPipeError:
        os._exit(EXIT_PROTOCOL)
    # os._exit skips finalizers and atexit hooks, so no user object gets a last word.
    os._exit(0)


def _own_usage() -> dict[str, float]:
    # Under bubblewrap the worker's wait4() sees bwrap, not this process: report our own.
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "max_rss_bytes": usage.ru_maxrss * 1024,
    }


def final_bytes(message: dict[str, Any]) -> bytes:
    """The last protocol line; a message that cannot be encoded is our bug, said generically."""
    try:
        return encode_message(message)
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        os.write(2, f"sandbox result not encodable: {type(exc).__name__}: {exc}"[:4000].encode())
        return encode_message({"type": "error", "code": "internal_error", "message": ""})


def _take_protocol_channel() -> BinaryIO:
    channel_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    return os.fdopen(channel_fd, "wb", buffering=0)


def die_with_parent(parent: int | None) -> None:
    """SIGKILL this process when its parent (the worker, or the zygote) dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # The parent may have died before prctl took effect; then we were re-parented.
    if parent is not None and os.getppid() != parent:
        os._exit(EXIT_PROTOCOL)


def _progress_sender(channel: BinaryIO) -> Callable[[float], None]:
    def send(fraction: float) -> None:
        channel.write(encode_message({"type": "progress", "fraction": float(fraction)}))

    return send


def _lock_down(header: dict[str, Any], keep_fd: int) -> None:
    drop_uid = header.get("drop_uid")
    if drop_uid is not None:
        _drop_privileges(int(drop_uid))
    _set_rlimits(header["limits"])
    _close_other_fds(keep_fd)
    program = header.get("seccomp_bpf")
    if program:
        install_filter(b64decode(program))


def _drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    # Changing all uids away from 0 clears every capability; check rather than trust.
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (uid, uid, uid):
        raise OSError("privilege drop did not take effect")


def _set_rlimits(limits: dict[str, Any]) -> None:
    cpu = int(limits["cpu_seconds"])
    files = int(limits["max_open_files"])
    memory = int(limits["memory_bytes"])
    # Hard limits are lowered too, so the process cannot raise them back.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))


def _close_other_fds(keep_fd: int) -> None:
    os.closerange(3, keep_fd)
    os.closerange(keep_fd + 1, 65536)
