"""The worker side of the zygote: one warm jailed process per worker process, one fork per job.

Starting a fresh jailed interpreter costs about 0.2 s of imports per job. The zygote
(zygote_jailed.py) pays them once: it is started with exactly the command line of a fresh
child (same bubblewrap namespaces and mounts), imports NumPy, the engine, the validator and
the runners, runs no user code, and forks one child per job that then locks down exactly as a
fresh child does. One child at a time per zygote, so no two jobs share the jail's namespaces.

run_child() is the only way the launcher and the batch launcher start a job: through this
process's zygote when one is enabled and free, else (zygote disabled, busy with another
thread's job, or failing to start) in a fresh process, today's path. A job is never lost to
the zygote: if it dies or breaks its protocol the job is run again in a fresh process and the
zygote replaced. Every kill (wall clock, cancel, output too large, protocol violation) kills
the whole zygote with its child, and a new one is started at once, so it warms up while the
worker stores the failed job.

TP_SANDBOX_ZYGOTE=0 in the worker's environment turns the zygote off (every job fresh).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from backtesting.sandbox.child import BOOTSTRAP
from backtesting.sandbox.isolation import CHILD_ENV, child_command
from backtesting.sandbox.limits import SandboxLimits
from backtesting.sandbox.supervisor import (
    ChildRun,
    ExitReport,
    FreshProcess,
    JobProcess,
    Outcome,
    child_pids,
    readable_within,
    tree_cpu_seconds,
)

logger = logging.getLogger(__name__)

ZYGOTE_BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from backtesting.sandbox.zygote_jailed import main; main()"
)
ENABLED_VARIABLE = "TP_SANDBOX_ZYGOTE"
READY_TIMEOUT_SECONDS = 60.0  # imports under heavy load; a hung zygote is replaced after this
STOP_GRACE_SECONDS = 2.0
RETRY_AFTER_FAILED_START_SECONDS = 30.0  # meanwhile jobs run fresh, so a broken host is no loop
MAX_PACKET = 1024
MAX_TREE_DEPTH = 3  # bwrap -> its pid-namespace init -> the zygote


class ZygoteLost(Exception):
    """The zygote died or broke its protocol; the job it was given must run elsewhere."""


class Zygote:
    """One jailed zygote process and its control socket; used by one thread at a time."""

    def __init__(self, bootstrap: str = ZYGOTE_BOOTSTRAP) -> None:
        """Start the zygote; it warms up in the background (wait_ready() waits for it)."""
        self.argv = child_command(bootstrap)
        self.owner_pid = os.getpid()
        self.ready = False
        self.alive = True
        self._host_pid: int | None = None
        self._workdir = tempfile.TemporaryDirectory(prefix="tp-sandbox-zygote-")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._popen = subprocess.Popen(  # noqa: S603 - fixed argv built by isolation.py
                self.argv,
                stdin=theirs.fileno(),  # the control socket (zygote_jailed.CONTROL_FD)
                stdout=subprocess.DEVNULL,
                env=dict(CHILD_ENV),
                cwd=self._workdir.name,
                close_fds=True,
                start_new_session=True,  # its own process group, so killpg takes everything
            )
        except OSError:
            ours.close()
            self._workdir.cleanup()
            raise
        finally:
            theirs.close()
        self._control = ours

    @property
    def pid(self) -> int:
        return self._popen.pid

    def wait_ready(self) -> None:
        """Block until the zygote has imported everything; raises ZygoteLost if it cannot."""
        if self.ready:
            return
        message = self.receive(READY_TIMEOUT_SECONDS)
        if message is None:
            raise ZygoteLost("the zygote did not get ready in time")
        jail_pid = message.get("ready")
        if not isinstance(jail_pid, int):
            raise ZygoteLost(f"unexpected first message {message!r}")
        self._host_pid = _host_pid(self._popen.pid, jail_pid)
        self.ready = True

    def job_start(self) -> ZygoteJob:
        """Hand the zygote a new job's pipes; it forks the job's child onto them."""
        self.wait_ready()
        stdin_read, stdin_write = os.pipe2(os.O_CLOEXEC)
        stdout_read, stdout_write = os.pipe2(os.O_CLOEXEC)
        stderr_read, stderr_write = os.pipe2(os.O_CLOEXEC)
        theirs = [stdin_read, stdout_write, stderr_write]
        try:
            socket.send_fds(self._control, [b"job"], theirs)
        except OSError as exc:
            for fd in (stdin_write, stdout_read, stderr_read):
                os.close(fd)
            raise ZygoteLost(f"the zygote took no job: {exc}") from exc
        finally:
            for fd in theirs:
                os.close(fd)
        return ZygoteJob(self, stdin_write, stdout_read, stderr_read)

    def receive(self, timeout: float | None) -> dict[str, Any] | None:
        """The zygote's next message (None: nothing within `timeout`); ZygoteLost at its end."""
        if not readable_within(self._control.fileno(), timeout):
            return None
        try:
            data = self._control.recv(MAX_PACKET)
        except OSError as exc:
            raise ZygoteLost(f"the control socket failed: {exc}") from exc
        if not data:
            raise ZygoteLost(f"the zygote exited ({self._popen.poll()})")
        try:
            message = json.loads(data)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            raise ZygoteLost("the zygote sent a malformed message")
        return message

    def children_cpu_seconds(self) -> float:
        """CPU used so far by the zygote's child (the job), not by the zygote itself."""
        if self._host_pid is None:
            return 0.0
        return sum(tree_cpu_seconds(pid) for pid in child_pids(self._host_pid))

    def kill(self) -> None:
        """SIGKILL the zygote's process group (bwrap, the zygote, its child) and reap it."""
        if self.alive:
            try:
                os.killpg(self._popen.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self._popen.kill()
            self._popen.wait()
        self._close()

    def stop(self) -> None:
        """Close the control socket, which ends the zygote; kill it if it lingers."""
        if not self.alive:
            return
        self._control.close()
        try:
            self._popen.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            logger.warning("sandbox zygote %s did not stop; killing it", self._popen.pid)
            self.kill()
        # Exited: bubblewrap's pid-namespace init, the last process of the jail, follows it.
        self._close()

    def _close(self) -> None:
        self.alive = False
        self._control.close()
        self._workdir.cleanup()


class ZygoteJob:
    """A job's child forked by a zygote, seen through its three pipes and the zygote's reports."""

    def __init__(self, zygote: Zygote, stdin: int, stdout: int, stderr: int) -> None:
        self._zygote = zygote
        self.stdin: IO[bytes] = os.fdopen(stdin, "wb", buffering=0)
        self.stdout: IO[bytes] = os.fdopen(stdout, "rb", buffering=0)
        self.stderr: IO[bytes] = os.fdopen(stderr, "rb", buffering=0)
        self._exit: ExitReport | None = None

    def wait(self, timeout: float | None) -> ExitReport | None:
        if self._exit is None:
            message = self._zygote.receive(timeout)
            if message is not None:
                self._exit = _exit_report(message)
        return self._exit

    def kill(self) -> ExitReport:
        # Killing the child alone would need its host pid, which the worker can only guess
        # from /proc; the whole zygote is certain, and its replacement starts at once.
        if self._exit is None:
            self._zygote.kill()
            self._exit = ExitReport(-signal.SIGKILL)
        return self._exit

    def sampled_cpu_seconds(self) -> float:
        return self._zygote.children_cpu_seconds()


def _exit_report(message: dict[str, Any]) -> ExitReport:
    code, cpu, rss = message.get("exit"), message.get("cpu_seconds"), message.get("max_rss_bytes")
    numbers_ok = isinstance(cpu, int | float) and isinstance(rss, int)
    if not isinstance(code, int) or isinstance(code, bool) or not numbers_ok:
        raise ZygoteLost(f"the zygote sent a malformed exit report {message!r}")
    assert isinstance(cpu, int | float) and isinstance(rss, int)
    return ExitReport(code, cpu_seconds=float(cpu), max_rss_bytes=rss)


def _host_pid(root: int, jail_pid: int) -> int:
    """The host pid of the process under `root` whose pid in its own namespace is `jail_pid`."""
    level = deque([(root, 0)])
    while level:
        pid, depth = level.popleft()
        if _innermost_pid(pid) == jail_pid:
            return pid
        if depth < MAX_TREE_DEPTH:
            level.extend((child, depth + 1) for child in child_pids(pid))
    raise ZygoteLost(f"no process under {root} has pid {jail_pid} in its namespace")


def _innermost_pid(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("NSpid:"):
            return int(line.split()[-1])
    return None


# ---------------------------------------------------------------- this process's zygote

_lock = threading.Lock()  # one job at a time through the zygote; others run fresh
_zygote: Zygote | None = None
_no_start_before = 0.0  # monotonic time; set after a zygote failed to start
_exit_hook_registered = False


def zygote_enabled() -> bool:
    return os.environ.get(ENABLED_VARIABLE, "1") != "0"


def zygote_start() -> None:
    """Start this process's zygote now, so the first job finds it warm (worker start-up).

    Does not wait for it to import: that happens while the worker gets ready.
    Start it from the thread that runs jobs: it is killed when the thread that started it ends
    (bubblewrap's --die-with-parent and PR_SET_PDEATHSIG follow the starting thread).
    """
    if not zygote_enabled():
        return
    with _lock:
        _current()


def zygote_stop() -> None:
    """Stop this process's zygote (worker shutdown); no process of it is left behind."""
    global _zygote
    # A job still running (a daemon thread at interpreter exit) must not keep us waiting: its
    # zygote is stopped all the same, and the job ends as a lost zygote's would.
    locked = _lock.acquire(timeout=STOP_GRACE_SECONDS)
    try:
        if _zygote is not None and _zygote.owner_pid == os.getpid():
            _zygote.stop()
        _zygote = None
    finally:
        if locked:
            _lock.release()


def zygote_pid() -> int | None:
    """The pid of this process's zygote (its bubblewrap, when jailed), if one runs."""
    zygote = _zygote
    if zygote is None or not zygote.alive or zygote.owner_pid != os.getpid():
        return None
    return zygote.pid


def run_child(
    payload: list[bytes],
    limits: SandboxLimits,
    on_progress: Callable[[float], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> Outcome:
    """Run one job (a single run or a batch) in a jailed child and report what happened."""

    def child_run(start: Callable[[], JobProcess]) -> Outcome:
        return ChildRun(start, payload, limits, on_progress, should_cancel).run()

    if zygote_enabled() and _lock.acquire(blocking=False):
        try:
            zygote = _current()
            if zygote is not None:
                try:
                    return child_run(zygote.job_start)
                except ZygoteLost as exc:
                    logger.warning(
                        "sandbox zygote %s lost (%s); running the job in a fresh process",
                        zygote.pid,
                        exc,
                    )
                    zygote.kill()
                finally:
                    if not zygote.alive:  # lost, or killed to stop its child
                        _replace(zygote)
        finally:
            _lock.release()
    with tempfile.TemporaryDirectory(prefix="tp-sandbox-") as workdir:
        return child_run(lambda: FreshProcess(child_command(BOOTSTRAP), dict(CHILD_ENV), workdir))


def _current() -> Zygote | None:
    """This process's zygote for the current jail command line, started if needed (locked)."""
    global _zygote, _exit_hook_registered
    zygote = _zygote
    if zygote is not None and zygote.owner_pid != os.getpid():
        zygote = _zygote = None  # inherited through fork: the parent's, not ours to use
    argv = child_command(ZYGOTE_BOOTSTRAP)
    if zygote is not None and (not zygote.alive or zygote.argv != argv):
        zygote.stop()  # dead, or started for another isolation set-up (a test patched it)
        zygote = _zygote = None
    if zygote is None and time.monotonic() >= _no_start_before:
        try:
            zygote = _zygote = Zygote(ZYGOTE_BOOTSTRAP)
        except OSError:
            logger.exception("sandbox zygote could not be started; running jobs fresh")
            _failed_start()
            return None
        if not _exit_hook_registered:
            atexit.register(zygote_stop)
            _exit_hook_registered = True
    return zygote


def _replace(dead: Zygote) -> None:
    """Start the successor of a dead zygote now, or later if it never got ready."""
    global _zygote
    if _zygote is dead:
        _zygote = None
    if dead.ready:
        _current()
    else:
        _failed_start()


def _failed_start() -> None:
    global _no_start_before
    _no_start_before = time.monotonic() + RETRY_AFTER_FAILED_START_SECONDS
