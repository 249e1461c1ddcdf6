"""The worker side of one run: start the child, feed it, read it, and kill it when needed.

Never imports or executes anything the child sends: it reads bounded JSON lines only.
"""

from __future__ import annotations

import errno
import os
import select
import selectors
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from backtesting.sandbox.limits import SandboxLimits
from backtesting.sandbox.wire import iter_messages

POLL_SECONDS = 0.1  # should_cancel() is polled at least this often; CPU is sampled as often
READ_CHUNK = 64 * 1024
STDERR_TAIL_BYTES = 8 * 1024
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MAX_TREE_DEPTH = 4  # bwrap -> bwrap's pid-namespace init -> the jailed interpreter


class _ProtocolError(Exception):
    """The child broke the message protocol."""


@dataclass
class Outcome:
    """What happened to one child; interpreted into a result or a SandboxError by the caller."""

    final: dict[str, Any] | None = None
    killed_for: str | None = None
    returncode: int | None = None
    user_code_started: bool = False  # the child said so: a crash from here on is the user's
    # The worker's own measures: the largest of wait4()'s and of /proc samples taken while the
    # child ran (under bubblewrap wait4() sees only bwrap). launcher.py adds the child's report.
    cpu_seconds: float = 0.0
    max_rss_bytes: int = 0
    wall_seconds: float = 0.0
    stderr_tail: bytes = b""


@dataclass
class ExitReport:
    """How a job's process ended: its exit code (negative: killed by that signal) and usage."""

    returncode: int
    cpu_seconds: float = 0.0
    max_rss_bytes: int = 0


class JobProcess(Protocol):
    """One job's jailed process, however it was started (fresh, or forked by a zygote)."""

    stdin: IO[bytes]
    stdout: IO[bytes]
    stderr: IO[bytes]

    def wait(self, timeout: float | None) -> ExitReport | None:
        """The exit report once the process has ended (None: still running after `timeout`)."""

    def kill(self) -> ExitReport:
        """SIGKILL everything the job runs in and reap it."""

    def sampled_cpu_seconds(self) -> float:
        """CPU seconds the job's process has used so far, read from /proc."""


class FreshProcess:
    """A new interpreter for one job (`python -I -B -c BOOTSTRAP`, under bubblewrap if any)."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str) -> None:
        self._popen = subprocess.Popen(  # noqa: S603 - fixed argv built by isolation.py
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            close_fds=True,
            start_new_session=True,  # its own process group, so killpg takes everything
        )
        assert self._popen.stdin and self._popen.stdout and self._popen.stderr
        self.stdin, self.stdout, self.stderr = (
            self._popen.stdin,
            self._popen.stdout,
            self._popen.stderr,
        )
        self._exit: ExitReport | None = None

    def wait(self, timeout: float | None) -> ExitReport | None:
        if self._exit is None and (timeout is None or _pid_exits_within(self._popen.pid, timeout)):
            self._wait4(0 if timeout is None else os.WNOHANG)
        return self._exit

    def kill(self) -> ExitReport:
        if self._exit is None:
            try:
                os.killpg(self._popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            except PermissionError:  # the group leader is gone and the pgid got reused
                self._popen.kill()
        exit_report = self.wait(None)
        assert exit_report is not None
        return exit_report

    def sampled_cpu_seconds(self) -> float:
        # bwrap -> its pid-namespace init -> the jailed interpreter; the tree is the job.
        return tree_cpu_seconds(self._popen.pid)

    def _wait4(self, options: int) -> None:
        try:
            pid, status, usage = os.wait4(self._popen.pid, options)
        except ChildProcessError as exc:
            if exc.errno != errno.ECHILD:
                raise
            pid, status, usage = self._popen.pid, 0, None
        if pid == 0:
            return
        returncode = os.waitstatus_to_exitcode(status)
        self._popen.returncode = returncode  # so Popen's own finalizer does not wait again
        self._exit = ExitReport(
            returncode,
            cpu_seconds=(usage.ru_utime + usage.ru_stime) if usage else 0.0,
            max_rss_bytes=usage.ru_maxrss * 1024 if usage else 0,
        )


def _pid_exits_within(pid: int, timeout: float) -> bool:
    """True once `pid` (our child, not yet reaped) has exited, waiting at most `timeout`."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return True  # gone already; wait4 tells
    try:
        return readable_within(pidfd, timeout)
    finally:
        os.close(pidfd)


def readable_within(fd: int, timeout: float | None) -> bool:
    """True once `fd` is readable (or at its end), waiting at most `timeout` (None: forever)."""
    poller = select.poll()  # not select(): a busy worker may hold descriptors above 1024
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(None if timeout is None else timeout * 1000))


@dataclass
class ChildRun:
    start: Callable[[], JobProcess]
    payload: list[bytes]
    limits: SandboxLimits
    on_progress: Callable[[float], None] | None = None
    should_cancel: Callable[[], bool] | None = None
    outcome: Outcome = field(default_factory=Outcome)

    def run(self) -> Outcome:
        started = time.monotonic()
        self._deadline = started + self.limits.wall_seconds
        self._next_sample = started
        self._exit: ExitReport | None = None
        self._proc = self.start()
        try:
            self._pump()
            self._reap()
        finally:
            self._kill()  # no-op when already reaped; covers exceptions from callbacks
            for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
                stream.close()
            self.outcome.wall_seconds = time.monotonic() - started
        return self.outcome

    def _pump(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._chunks = [memoryview(c) for c in self.payload if c]
        self._buffer = bytearray()
        self._received = 0
        streams = {
            self._proc.stdin: "stdin",
            self._proc.stdout: "stdout",
            self._proc.stderr: "stderr",
        }
        for stream, role in streams.items():
            os.set_blocking(stream.fileno(), False)
            event = selectors.EVENT_WRITE if role == "stdin" else selectors.EVENT_READ
            self._selector.register(stream, event, role)
        try:
            while self._selector.get_map() and not self._interrupted():
                for key, _ in self._selector.select(timeout=POLL_SECONDS):
                    self._handle(key)
        finally:
            self._selector.close()

    def _interrupted(self) -> bool:
        self._sample_cpu()
        if self.outcome.killed_for is not None:
            return True
        if self.should_cancel is not None and self.should_cancel():
            self._stop("cancelled")
        elif time.monotonic() > self._deadline:
            self._stop("wall_clock_limit")
        return self.outcome.killed_for is not None

    def _handle(self, key: selectors.SelectorKey) -> None:
        if key.data == "stdin":
            self._write_stdin(key.fileobj)  # type: ignore[arg-type]
            return
        data = self._read(key.fileobj)  # type: ignore[arg-type]
        if data is None:
            return
        if key.data == "stderr":
            self.outcome.stderr_tail = (self.outcome.stderr_tail + data)[-STDERR_TAIL_BYTES:]
        else:
            self._on_stdout(data)

    def _read(self, stream: Any) -> bytes | None:
        try:
            data = os.read(stream.fileno(), READ_CHUNK)
        except BlockingIOError:
            return None
        if not data:
            self._selector.unregister(stream)
            stream.close()
            return None
        return data

    def _write_stdin(self, stream: Any) -> None:
        try:
            while self._chunks:
                written = os.write(stream.fileno(), self._chunks[0])
                self._chunks[0] = self._chunks[0][written:]
                if not len(self._chunks[0]):
                    self._chunks.pop(0)
        except BlockingIOError:
            return
        except BrokenPipeError:
            pass  # the child died early; its exit status tells why
        self._selector.unregister(stream)
        stream.close()

    def _on_stdout(self, data: bytes) -> None:
        self._received += len(data)
        if self._received > self.limits.output_bytes:
            self._stop("output_too_large")
            return
        self._buffer += data
        try:
            messages = list(iter_messages(self._buffer))
        except ValueError:
            self._stop("invalid_output")
            return
        try:
            for message in messages:
                self._on_message(message)
        except _ProtocolError:
            self._stop("invalid_output")

    def _on_message(self, message: dict[str, Any]) -> None:
        # Exceptions from on_progress propagate to the caller (after the kill in run()).
        if self.outcome.final is not None:
            raise _ProtocolError("message after the final one")
        if message["type"] == "started":
            self.outcome.user_code_started = True
            return
        if message["type"] != "progress":
            self.outcome.final = message
            return
        fraction = message.get("fraction")
        if not isinstance(fraction, int | float) or isinstance(fraction, bool):
            raise _ProtocolError("bad progress message")
        if self.on_progress is not None:
            self.on_progress(min(max(float(fraction), 0.0), 1.0))

    def _sample_cpu(self) -> None:
        now = time.monotonic()
        if now < self._next_sample or self._exit is not None:
            return
        self._next_sample = now + POLL_SECONDS
        sampled = self._proc.sampled_cpu_seconds()
        self.outcome.cpu_seconds = max(self.outcome.cpu_seconds, sampled)

    def _stop(self, reason: str) -> None:
        if self.outcome.killed_for is None:
            self.outcome.killed_for = reason
        self._kill()

    def _kill(self) -> None:
        if self._exit is None:
            self._record(self._proc.kill())

    def _reap(self) -> None:
        # Streams are closed; give the child until the deadline to exit on its own.
        while self._exit is None and not self._interrupted():
            exit_report = self._proc.wait(POLL_SECONDS)
            if exit_report is not None:
                self._record(exit_report)

    def _record(self, exit_report: ExitReport) -> None:
        self._exit = exit_report
        self.outcome.returncode = exit_report.returncode
        self.outcome.cpu_seconds = max(self.outcome.cpu_seconds, exit_report.cpu_seconds)
        self.outcome.max_rss_bytes = exit_report.max_rss_bytes


def tree_cpu_seconds(pid: int, depth: int = MAX_TREE_DEPTH) -> float:
    """CPU seconds used so far by `pid` and its descendants, read from /proc.

    bwrap exits as soon as the jailed process does, before its pid-namespace init reaps it, so
    no rusage the worker can wait for includes the jailed process: when it is killed, these
    samples are the worker's only measure of it. Unreadable entries count as 0.
    """
    total = _own_cpu_seconds(pid)
    if depth > 0:
        for child in child_pids(pid):
            total += tree_cpu_seconds(child, depth - 1)
    return total


def _own_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    except (OSError, IndexError, ValueError):
        return 0.0


def child_pids(pid: int) -> list[int]:
    """The pids of `pid`'s children (none if it is gone or unreadable)."""
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(child) for child in (task / "children").read_bytes().split()]
    except (OSError, ValueError):
        pass
    return found
