"""`make run`'s process supervisor: gunicorn and a Celery worker, one banner, one clean stop.

    .venv/bin/python deploy/dev/supervise.py

- The web server and the worker each run in a session of their own, so a stop can reach their
  whole process trees (gunicorn workers, Celery pool processes, sandbox children).
- A worker that dies (a crash, the OOM killer, an unrecoverable broker error) is started
  again after a short, growing pause; a web server that dies stops everything, because half
  an app that looks up is worse than one that is visibly down.
- SIGINT/SIGTERM/SIGHUP forward SIGTERM to both; whatever is still alive after the grace
  period (`STOP_GRACE_SECONDS`, default 10) is killed. Celery's warm shutdown waits for
  running tasks, which can take minutes; backtests are acked late and leased, so a killed
  job is re-queued by the recovery sweep and nothing is lost.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIND = "127.0.0.1:8000"
RESTART_PAUSES = (1.0, 2.0, 5.0, 10.0)  # seconds before restart number 1, 2, 3, 4 and on


def say(line: str) -> None:
    """One line on the terminal of whoever typed `make run`, shown at once."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@dataclass
class Program:
    """One supervised command; `restart` says whether its death is survivable."""

    name: str
    argv: Sequence[str]
    restart: bool
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started: list[int] = field(default_factory=list)  # every pid it ran as, oldest first

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv, start_new_session=True)  # noqa: S603
        self.started.append(self.process.pid)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal_leader(self, signum: int) -> None:
        if self.alive():
            assert self.process is not None
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signum)

    def signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)


class Supervisor:
    def __init__(self, programs: Sequence[Program], grace_seconds: float) -> None:
        self.programs = list(programs)
        self.grace_seconds = grace_seconds
        self.stopping = False

    def request_stop(self, signum: int, _frame: FrameType | None = None) -> None:
        if not self.stopping:
            say(f"Received {signal.Signals(signum).name}; stopping web and worker...")
        self.stopping = True

    def run(self) -> int:
        """Start every program and watch them until a stop is asked or the web server dies."""
        for program in self.programs:
            program.start()
        exit_code = 0
        while not self.stopping:
            time.sleep(0.2)
            exit_code = self._check_programs()
            if exit_code:
                break
        self.stop()
        return exit_code

    def _check_programs(self) -> int:
        now = time.monotonic()
        for program in self.programs:
            if program.process is None or program.alive():
                continue
            code = program.process.returncode
            if not program.restart:
                say(f"{program.name} exited with status {code}; stopping.")
                return code or 1
            if program.next_start == 0.0:
                pause = RESTART_PAUSES[min(program.restarts, len(RESTART_PAUSES) - 1)]
                say(f"{program.name} exited with status {code}; restarting in {pause:g} s.")
                program.next_start = now + pause
            elif now >= program.next_start:
                program.restarts += 1
                program.next_start = 0.0
                program.start()
        return 0

    def stop(self) -> None:
        """SIGTERM to each program, then SIGKILL to every process tree left after the grace.

        Only the leader gets SIGTERM: gunicorn's master and Celery's main process stop their
        own children in order, and a Celery pool process killed under its parent's feet can
        leave the parent waiting on it until the grace period ends.
        """
        for program in self.programs:
            program.signal_leader(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        while time.monotonic() < deadline and any(p.alive() for p in self.programs):
            time.sleep(0.1)
        for program in self.programs:
            if program.alive():
                say(f"{program.name} outlived the {self.grace_seconds:g} s grace period; killed.")
            # Also reaches pool processes and sandbox children left behind by a dead parent.
            program.signal_group(signal.SIGKILL)
            if program.process is not None:
                program.process.wait()


def app_programs(venv: Path, bind: str) -> list[Program]:
    queues = os.environ.get("CELERY_QUEUES", "celery,backtests,optimizations,notifications")
    worker = [str(venv / "bin/celery"), "-A", "tradeplatform", "worker", "--loglevel", "INFO"]
    worker += ["--queues", queues, "--concurrency", os.environ.get("CELERY_CONCURRENCY", "2")]
    web = [str(venv / "bin/gunicorn"), "--config", "deploy/gunicorn.conf.py", "--bind", bind]
    return [
        Program("worker", worker, restart=True),
        Program("web", [*web, "tradeplatform.wsgi"], restart=False),
    ]


def banner(bind: str) -> str:
    if bind.startswith(("unix:", "fd://")):
        where = bind
    else:
        host, _, port = bind.rpartition(":")
        shown = "127.0.0.1" if host in ("0.0.0.0", "", "[::]") else host  # noqa: S104
        where = f"http://{shown}:{port}"
        if host in ("0.0.0.0", "[::]"):  # noqa: S104
            where += f" (listening on every interface: {bind})"
    return (
        f"tradeplatform is serving on {where} (API docs: /api/docs/, health: /health). "
        "Ctrl-C stops it."
    )


def read_dotenv() -> None:
    """Read .env as the settings do, so GUNICORN_BIND or CELERY_CONCURRENCY set there apply."""
    import environ

    dotenv = os.environ.get("DOTENV_FILE", str(ROOT / ".env"))
    if dotenv and Path(dotenv).is_file():
        environ.Env.read_env(dotenv, overwrite=False)


def main() -> int:
    os.chdir(ROOT)
    read_dotenv()
    bind = os.environ.get("GUNICORN_BIND") or DEFAULT_BIND
    supervisor = Supervisor(
        app_programs(Path(os.environ.get("VENV", ".venv")).absolute(), bind),
        grace_seconds=float(os.environ.get("STOP_GRACE_SECONDS", "10")),
    )
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, supervisor.request_stop)
    say(banner(bind))
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
