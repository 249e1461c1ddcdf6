"""`make run`'s supervisor: the banner, restarting a dead worker, and a bounded stop.

The Supervisor is driven with small Python programs standing in for gunicorn and Celery (one
that exits, one that ignores SIGTERM the way a Celery worker in warm shutdown waits for its
task); one test runs the real `deploy/dev/supervise.py` with gunicorn and Celery.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from deploy.dev.supervise import Program, Supervisor, banner

ROOT = Path(__file__).resolve().parents[2]
SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]
STUBBORN = [
    sys.executable,
    "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)",
]


def run_in_thread(supervisor: Supervisor) -> threading.Thread:
    thread = threading.Thread(target=supervisor.run, daemon=True)
    thread.start()
    return thread


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met before the deadline")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize(
    ("bind", "shown"),
    [
        ("127.0.0.1:8765", "http://127.0.0.1:8765 "),
        ("0.0.0.0:9001", "http://127.0.0.1:9001 (listening on every interface: 0.0.0.0:9001)"),
        ("unix:/tmp/tp.sock", "serving on unix:/tmp/tp.sock "),
    ],
)
def test_the_banner_names_the_address_really_served(bind, shown):
    assert shown in banner(bind)


def test_a_worker_that_dies_is_started_again():
    worker = Program("worker", SLEEPER, restart=True)
    supervisor = Supervisor([worker, Program("web", SLEEPER, restart=False)], grace_seconds=5)
    thread = run_in_thread(supervisor)
    wait_for(lambda: worker.alive())
    first = worker.started[0]

    os.kill(first, signal.SIGKILL)

    wait_for(lambda: len(worker.started) == 2 and worker.alive())
    assert worker.started[1] != first
    supervisor.request_stop(signal.SIGTERM)
    thread.join(timeout=30)
    assert not thread.is_alive()


def test_a_dead_web_server_stops_everything():
    web = Program("web", [sys.executable, "-c", "raise SystemExit(3)"], restart=False)
    worker = Program("worker", SLEEPER, restart=True)

    code = Supervisor([worker, web], grace_seconds=5).run()

    assert code == 3
    assert not worker.alive()


def test_a_program_ignoring_sigterm_is_killed_after_the_grace_period():
    stubborn = Program("worker", STUBBORN, restart=True)
    supervisor = Supervisor([stubborn], grace_seconds=1)
    thread = run_in_thread(supervisor)
    wait_for(lambda: stubborn.alive())
    time.sleep(0.5)  # let the child install its SIGTERM handler

    supervisor.request_stop(signal.SIGTERM)
    thread.join(timeout=30)

    assert not thread.is_alive()
    assert not pid_alive(stubborn.started[0])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_pids(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = task / "children"
        if children.exists():
            found += [int(p) for p in children.read_text().split()]
    return found


@pytest.mark.slow
def test_make_runs_supervisor_serves_the_configured_bind_and_stops_on_sigterm(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)  # the embedded default, in a VAR_DIR of this test's own
    env.update(
        DJANGO_ENV="test",
        VAR_DIR=str(tmp_path / "var"),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="1",
        CELERY_CONCURRENCY="1",
        STOP_GRACE_SECONDS="5",
        VENV=str(Path(sys.executable).parents[1]),
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "supervise.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "deploy/dev/supervise.py"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: f"http://127.0.0.1:{port} " in log.read_text(errors="replace"))
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/live"), timeout=60)
        tree = child_pids(process.pid)
        assert len(tree) == 2  # gunicorn and the Celery worker

        os.killpg(process.pid, signal.SIGTERM)  # what `kill -TERM -<pgid>` of make run does
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert not [pid for pid in tree if pid_alive(pid)], log.read_text(errors="replace")
    assert not _answers(f"http://127.0.0.1:{port}/live")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
