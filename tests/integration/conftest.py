"""A real Celery worker (subprocess) on the real broker, against the test database.

The worker is started once per session after pytest-django created the test database and
is told to use it: on PostgreSQL through DATABASE_URL with the test database's name; on
the embedded SQLite default through a VAR_DIR whose database file is a symlink to the test
database while the broker and cache folders link to the ones this process uses. Tests use
`transactional_db` so the rows they create are committed and visible to the worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 60.0


class Worker:
    def __init__(self, process: subprocess.Popen, log_path: Path, metrics_dir: Path) -> None:
        self.process, self.log_path, self.metrics_dir = process, log_path, metrics_dir

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def pool_children(self) -> list[int]:
        """Pids of the prefork pool processes (the ones that run tasks)."""
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []


def _worker_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DJANGO_ENV="test",
        PYTHONPATH=str(ROOT),
        BACKTEST_LEASE_SECONDS="3",  # a killed worker's job is re-claimable within seconds
        BACKTEST_RETRY_BACKOFF_SECONDS="0.2",
        PROMETHEUS_MULTIPROC_DIR=str(tmp / "metrics"),
        DB_POOL_SIZE="1",
    )
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        user = db.get("USER") or ""
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        auth = f"{user}{password}@" if user else ""
        env["DATABASE_URL"] = f"postgres://{auth}{db['HOST']}:{db.get('PORT') or 5432}/{db['NAME']}"
    else:
        var = tmp / "var"
        var.mkdir()
        (var / "tradeplatform.sqlite3").symlink_to(Path(db["NAME"]).resolve())
        for shared in ("broker", "cache"):
            (settings.VAR_DIR / shared).mkdir(exist_ok=True)
            (var / shared).symlink_to((settings.VAR_DIR / shared).resolve())
        env["VAR_DIR"] = str(var)
    return env


def _wait_ready(worker: Worker) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise RuntimeError(f"celery worker exited early:\n{worker.log()[-4000:]}")
        if " ready." in worker.log():
            return
        time.sleep(0.2)
    raise RuntimeError(f"celery worker not ready after {READY_TIMEOUT}s:\n{worker.log()[-4000:]}")


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Worker]:
    tmp = tmp_path_factory.mktemp("celery-worker")
    (tmp / "metrics").mkdir()
    with django_db_blocker.unblock():
        env = _worker_env(tmp)
    log_path = tmp / "worker.log"
    command = [
        sys.executable, "-m", "celery", "-A", "tradeplatform", "worker",
        "--pool", "prefork", "--concurrency", "1", "--loglevel", "INFO",
        "--queues", "backtests,notifications,celery",
        "--hostname", f"test-{uuid.uuid4().hex[:8]}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    worker = Worker(process, log_path, tmp / "metrics")
    try:
        _wait_ready(worker)
        yield worker
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    # The worker leads its own session: signal the group so pool and sandbox children go too.
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
