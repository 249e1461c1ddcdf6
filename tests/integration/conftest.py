"""A real Celery worker (subprocess) on the real broker, against the test database.

The worker is started once per session after pytest-django created the test database and
is told to use it: on PostgreSQL through DATABASE_URL with the test database's name; on
the embedded SQLite default through a VAR_DIR whose database file is a symlink to the test
database while the broker and cache folders link to the ones this process uses. Tests use
`transactional_db` so the rows they create are committed and visible to the worker.

`start_worker` starts more workers for one test (stopped after it), on a queue of that test's
own, optionally with a test-only app module (`app="tests.integration.faulty_worker"`). All
workers share one Prometheus directory, so a metric is found whichever worker bumped it.

`private_redis` is a redis-server of one test's own, on a free port, that the test may kill
and start again: outages are never rehearsed on the shared instance.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from tests.backtesting.conftest import seed_bars
from tests.factories import StrategyFactory, StrategyVersionFactory, TraderFactory
from tests.private_services import PrivateRedis

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
        # Sweep for lost jobs every half second; a queued job is presumed lost after 5 s.
        BACKTEST_RECOVERY_INTERVAL_SECONDS="0.5",
        BACKTEST_REQUEUE_AFTER_SECONDS="5",
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


class WorkerLauncher:
    """Starts Celery worker subprocesses that all see the test database, broker and cache."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.tmp, self.env = tmp, env

    def start(
        self,
        *,
        queues: str,
        app: str = "tradeplatform",
        env: dict[str, str] | None = None,
        lean: bool = True,
    ) -> Worker:
        """A worker consuming `queues`; `lean=False` keeps gossip, mingle and broker heartbeats
        on, as `make run` and production workers run."""
        log_path = self.tmp / f"worker-{uuid.uuid4().hex[:8]}.log"
        command = [
            sys.executable, "-m", "celery", "-A", app, "worker",
            "--pool", "prefork", "--concurrency", "1", "--loglevel", "INFO",
            "--queues", queues,
            "--hostname", f"test-{uuid.uuid4().hex[:8]}@%h",
        ]  # fmt: skip
        if lean:
            command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, cwd=ROOT, env={**self.env, **(env or {})}, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        worker = Worker(process, log_path, self.tmp / "metrics")
        try:
            _wait_ready(worker)
        except BaseException:
            _stop(process)
            raise
        return worker


@pytest.fixture(scope="session")
def worker_launcher(django_db_setup, django_db_blocker, tmp_path_factory) -> WorkerLauncher:
    tmp = tmp_path_factory.mktemp("celery-worker")
    (tmp / "metrics").mkdir()
    with django_db_blocker.unblock():
        env = _worker_env(tmp)
    return WorkerLauncher(tmp, env)


@pytest.fixture(scope="session")
def celery_worker(worker_launcher: WorkerLauncher) -> Iterator[Worker]:
    # Not the optimizations queue: the sweep and robustness tests start workers of their own
    # there, and one that lives all session would take (and time) their chunks instead.
    worker = worker_launcher.start(queues="backtests,notifications,celery")
    try:
        yield worker
    finally:
        _stop(worker.process)


@pytest.fixture
def start_worker(worker_launcher: WorkerLauncher) -> Iterator[Callable[..., Worker]]:
    """Start extra workers for one test; each is stopped (its whole process group) after it."""
    started: list[Worker] = []

    def _start(**kwargs: Any) -> Worker:
        started.append(worker_launcher.start(**kwargs))
        return started[-1]

    yield _start
    for worker in started:
        _stop(worker.process)


def _stop(process: subprocess.Popen) -> None:
    # The worker leads its own session: signal the group so pool and sandbox children go too.
    if process.poll() is not None:
        _kill_group(process.pid, signal.SIGKILL)  # a killed main process may leave its children
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


@pytest.fixture
def no_sweep_by_the_session_worker(transactional_db) -> Iterator[None]:
    """Hold the shared recovery-sweep lock, so only the test's own workers recover jobs.

    The session worker sweeps the same database but publishes to the shared broker and cache;
    a test whose worker runs on a broker or cache of its own measures that worker's sweep.
    """
    from django.core.cache import cache

    from backtesting.jobs.recovery import SWEEP_LOCK_KEY

    cache.set(SWEEP_LOCK_KEY, "test", timeout=900)
    yield
    cache.delete(SWEEP_LOCK_KEY)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.kill()


SLOW_CODE = """from strategy import Strategy, Param
import indicators as ta


class SlowCross(Strategy):
    spin = Param(1000, min=0, max=1000000)

    def init(self):
        self.fast = self.I(ta.sma, self.data.close, 5)
        self.slow = self.I(ta.sma, self.data.close, 20)

    def next(self):
        total = 0
        for i in range(self.spin):
            total += i
        if ta.crossover(self.fast, self.slow):
            self.buy()
        elif ta.crossunder(self.fast, self.slow):
            self.close()
"""
SLOW_PARAMS = [{"name": "spin", "type": "int", "default": 1000, "min": 0, "max": 1000000,
                "step": None, "choices": None, "description": ""}]  # fmt: skip


@pytest.fixture
def setup(job_setup, celery_worker) -> dict[str, Any]:
    """A trader, bars of AAA, the slow strategy and the session worker running."""
    return job_setup


@pytest.fixture
def job_setup(transactional_db) -> dict[str, Any]:
    """A trader, bars of AAA and the slow strategy, for tests that start their own workers."""
    owner: Any = TraderFactory(username=f"it-{uuid.uuid4().hex[:6]}")
    seed_bars("AAA", 500)
    strategy = StrategyFactory(owner=owner, code="")
    slow = StrategyVersionFactory(strategy=strategy, code=SLOW_CODE, parameters=SLOW_PARAMS,
                                  class_name="SlowCross")  # fmt: skip
    client = APIClient()
    client.force_authenticate(owner)
    return {"owner": owner, "client": client, "strategy": strategy, "version": slow}
