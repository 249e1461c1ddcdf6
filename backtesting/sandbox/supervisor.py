"""The worker side of one run: start the child, feed it, read it, and kill it when needed.

Never imports or executes anything the child sends: it reads bounded JSON lines only.
"""

from __future__ import annotations

import errno
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
class ChildRun:
    argv: list[str]
    env: dict[str, str]
    cwd: str
    payload: list[bytes]
    limits: SandboxLimits
    on_progress: Callable[[float], None] | None = None
    should_cancel: Callable[[], bool] | None = None
    outcome: Outcome = field(default_factory=Outcome)

    def run(self) -> Outcome:
        started = time.monotonic()
        self._deadline = started + self.limits.wall_seconds
        self._next_sample = started
        self._proc = subprocess.Popen(  # noqa: S603 - fixed argv built by isolation.py
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
            cwd=self.cwd,
            close_fds=True,
            start_new_session=True,  # its own process group, so killpg takes everything
        )
        try:
            self._pump()
            self._reap()
        finally:
            self._kill()  # no-op when already reaped; covers exceptions from callbacks
            for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
                if stream is not None:
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
            assert stream is not None
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
        if now < self._next_sample or self._proc.returncode is not None:
            return
        self._next_sample = now + POLL_SECONDS
        sampled = tree_cpu_seconds(self._proc.pid)
        self.outcome.cpu_seconds = max(self.outcome.cpu_seconds, sampled)

    def _stop(self, reason: str) -> None:
        if self.outcome.killed_for is None:
            self.outcome.killed_for = reason
        self._kill()

    def _kill(self) -> None:
        if self._proc.returncode is not None:
            return
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except PermissionError:  # the group leader is gone and the pgid got reused
            self._proc.kill()
        self._wait(block=True)

    def _reap(self) -> None:
        # Streams are closed; give the child until the deadline to exit on its own.
        while self._proc.returncode is None and not self._interrupted():
            if not self._wait(block=False):
                time.sleep(0.01)

    def _wait(self, *, block: bool) -> bool:
        try:
            pid, status, usage = os.wait4(self._proc.pid, 0 if block else os.WNOHANG)
        except ChildProcessError as exc:
            if exc.errno != errno.ECHILD:
                raise
            return True
        if pid == 0:
            return False
        self._proc.returncode = os.waitstatus_to_exitcode(status)
        self.outcome.returncode = self._proc.returncode
        waited = usage.ru_utime + usage.ru_stime
        self.outcome.cpu_seconds = max(self.outcome.cpu_seconds, waited)
        self.outcome.max_rss_bytes = usage.ru_maxrss * 1024
        return True


def tree_cpu_seconds(pid: int, depth: int = MAX_TREE_DEPTH) -> float:
    """CPU seconds used so far by `pid` and its descendants, read from /proc.

    bwrap exits as soon as the jailed process does, before its pid-namespace init reaps it, so
    no rusage the worker can wait for includes the jailed process: when it is killed, these
    samples are the worker's only measure of it. Unreadable entries count as 0.
    """
    total = _own_cpu_seconds(pid)
    if depth > 0:
        for child in _children(pid):
            total += tree_cpu_seconds(child, depth - 1)
    return total


def _own_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    except (OSError, IndexError, ValueError):
        return 0.0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(child) for child in (task / "children").read_bytes().split()]
    except (OSError, ValueError):
        pass
    return found
