"""The zygote: a jailed process that imports everything trusted once and forks one child per job.

Started by the worker with the same command line as a fresh child (the same bubblewrap
namespaces and mounts), as `python -I -B -c BOOTSTRAP <import root> [<parent pid>]`, with one
end of a Unix SOCK_SEQPACKET socketpair as its stdin: the control socket. It imports NumPy, the
engine, the validator and the runners, runs no user code and holds no user data: it never
reads a payload. Then, one job at a time:

1. the worker sends one packet carrying three descriptors (SCM_RIGHTS): the read end of the
   job's stdin pipe and the write ends of its stdout and stderr pipes;
2. the zygote passes them on to its spare: a child it forked when the previous job ended, which
   has rehearsed (rehearsal.py: our own example run, so the job does not pay for copying the
   zygote's memory) and waits for exactly one job on a socket of its own. The child moves the
   three descriptors to 0, 1 and 2, reseeds the random generators the fork copied, and runs
   exactly what a fresh child runs after its imports (child.run_one_job: payload, lockdown,
   the job, report, exit). Without a live spare (it failed its rehearsal or died) the zygote
   forks the job's child there and then, as it always could;
3. the zygote closes its copies of the descriptors (so the worker sees end-of-file when the
   child exits), waits for the child and sends `{"exit": <status>, "cpu_seconds", "max_rss_bytes"}`
   (the status as os.waitstatus_to_exitcode gives it, the child's own rusage).

The first packet it sends is `{"ready": <its pid in the jail's pid namespace>}`. It exits when
the worker closes the socket (a waiting spare dies with it: PR_SET_PDEATHSIG). A child is never
reused: each job gets a new fork of the same pristine process, so nothing a job does to its
memory reaches the next one. The spare is forked only once the previous job's child has been
reaped, so a job's child never runs beside another job's; the spare runs no user code and
holds no user data until its job arrives.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import random
import signal
import socket
import sys
import traceback
from collections.abc import Callable

from backtesting.sandbox import batch_runner, runner  # noqa: F401 - imported once, for every child
from backtesting.sandbox.child import EXIT_PROTOCOL, die_with_parent, run_one_job
from backtesting.sandbox.rehearsal import rehearse

BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from backtesting.sandbox.zygote_jailed import main; main()"
)
CONTROL_FD = 0  # where the worker puts the control socket (the zygote's stdin)
JOB_FDS = 3  # the job's stdin, stdout and stderr
MAX_PACKET = 1024
EXIT_CHILD_RETURNED = 5  # a child must never get back into the zygote's loop
EXIT_SPARE_UNUSED = 6  # a spare whose rehearsal failed, or that got no job
SPARE_READY, SPARE_TAKEN = b"ready", b"taken"  # what a spare says to the zygote, in that order
# A rehearsal takes milliseconds; one still silent after this is given up on and the job's
# child forked as before, so a stuck spare can never hold a job.
SPARE_READY_TIMEOUT_SECONDS = 10.0


def main(job: Callable[[], None] | None = None) -> None:
    """Serve jobs until the worker closes the control socket; never returns.

    `job` runs in each forked child with the job's pipes on 0, 1 and 2 (default: the real
    child flow). The jail tests pass a probe that runs raw Python after the same lockdown.
    """
    parent = int(sys.argv[2]) if len(sys.argv) > 2 else None
    die_with_parent(parent)
    control = _control_socket()
    own_pid = os.getpid()
    run = job or (lambda: run_one_job(own_pid))
    # Everything alive now lives as long as the zygote: frozen, the children's collections
    # never walk (and so never copy-on-write) the zygote's own objects.
    gc.collect()
    gc.freeze()
    try:
        control.send(json.dumps({"ready": own_pid}).encode())
    except OSError:
        os._exit(0)  # the worker stopped us while we were importing
    spare = _Spare.fork(control, own_pid, run)
    while True:
        try:
            _, fds, _, _ = socket.recv_fds(control, MAX_PACKET, JOB_FDS)
        except OSError:
            os._exit(EXIT_PROTOCOL)
        if not fds:
            os._exit(0)  # end of file: the worker is done with us
        if len(fds) != JOB_FDS:
            os._exit(EXIT_PROTOCOL)
        pid = spare.take(fds) if spare is not None else None
        if pid is None:
            pid = os.fork()
            if pid == 0:
                _child(control, fds, run)
        for fd in fds:
            os.close(fd)
        _, status, usage = os.wait4(pid, 0)
        report = {
            "exit": os.waitstatus_to_exitcode(status),
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "max_rss_bytes": usage.ru_maxrss * 1024,
        }
        try:
            control.send(json.dumps(report).encode())
        except OSError:
            os._exit(0)
        spare = _Spare.fork(control, own_pid, run)


class _Spare:
    """The next job's child, forked ahead: it rehearses, then waits for its job's descriptors."""

    def __init__(self, pid: int, sock: socket.socket) -> None:
        self.pid, self._sock = pid, sock

    @classmethod
    def fork(
        cls, control: socket.socket, zygote_pid: int, run: Callable[[], None]
    ) -> _Spare | None:
        """A new spare, or None when none can be forked (jobs are then forked as they come)."""
        try:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        except OSError:
            return None
        try:
            pid = os.fork()
        except OSError:
            ours.close()
            theirs.close()
            return None
        if pid == 0:
            ours.close()
            _spare(control, theirs, zygote_pid, run)
        theirs.close()
        return cls(pid, ours)

    def take(self, fds: list[int]) -> int | None:
        """Hand the job's descriptors to the spare; its pid, or None if it is gone (reaped).

        Waits for the spare to say it rehearsed (a job that comes early waits out the rest of
        the rehearsal) and to confirm it holds the descriptors, so a job is never handed to a
        spare that is about to exit: then the caller forks the job's child as before.
        """
        try:
            self._sock.settimeout(SPARE_READY_TIMEOUT_SECONDS)
            if self._sock.recv(MAX_PACKET) != SPARE_READY:
                raise OSError("the spare ended before it was ready")
            socket.send_fds(self._sock, [b"job"], fds)
            if self._sock.recv(MAX_PACKET) != SPARE_TAKEN:
                raise OSError("the spare ended before it took the job")
        except OSError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            return None
        finally:
            self._sock.close()
        return self.pid


def _spare(
    control: socket.socket, sock: socket.socket, zygote_pid: int, run: Callable[[], None]
) -> None:
    """The spare's whole life: rehearse, wait for one job, run it as _child does; never returns."""
    try:
        control.close()
        die_with_parent(zygote_pid)  # a spare never outlives its zygote
        if not rehearse():
            sys.stderr.write("sandbox spare: the rehearsal failed; the job is forked fresh\n")
            os._exit(EXIT_SPARE_UNUSED)  # take() then finds the socket closed
        try:
            sock.send(SPARE_READY)
            _, fds, _, _ = socket.recv_fds(sock, MAX_PACKET, JOB_FDS)
        except OSError:
            # The zygote ended without reading our "ready" (the worker stopped): the kernel
            # resets the socket. Nothing to report; PR_SET_PDEATHSIG would kill us anyway.
            os._exit(EXIT_SPARE_UNUSED)
        if len(fds) != JOB_FDS:
            os._exit(EXIT_SPARE_UNUSED)  # the zygote closed our socket: it is ending
        sock.send(SPARE_TAKEN)
        sock.close()
        _child(control, fds, run)
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(EXIT_CHILD_RETURNED)


def _control_socket() -> socket.socket:
    """The control socket moved off fd 0 (a job's stdin goes there), /dev/null in its place."""
    control_fd = os.dup(CONTROL_FD)
    os.set_inheritable(control_fd, False)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, CONTROL_FD)
    os.close(devnull)
    return socket.socket(fileno=control_fd)


def _child(control: socket.socket, fds: list[int], run: Callable[[], None]) -> None:
    """The forked child: the job's pipes on 0, 1 and 2, fresh randomness, then the job."""
    try:
        control.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        reseed_random()
        run()
    except BaseException:
        traceback.print_exc()  # to the job's stderr, which the worker logs
    finally:
        os._exit(EXIT_CHILD_RETURNED)


def reseed_random() -> None:
    """A fork copies the generators' state: without this, consecutive jobs draw the same numbers."""
    random.seed()
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy_random.seed()
