"""The connection budget: each kind of process sizes its pool, and a whole stack fits.

The stack test starts real processes on loopback with the production pool defaults (no
DB_POOL_* in their environment): gunicorn with 2 workers x 4 threads, 2 Celery workers (a
prefork pool process each), and `manage.py jobs_recover`, all against the test database
and a private Redis (broker and cache, so no other worker of the suite takes its jobs).
While web requests, backtests and the sweep run, pg_stat_activity is sampled; every
process is told apart by its application_name (libpq's PGAPPNAME).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from backtesting.models import Backtest, BacktestStatus
from backtesting.services import backtest_submit
from tests.backtesting.conftest import instrument, make_input  # noqa: F401
from tests.factories import StrategyFactory, TraderFactory
from tests.integration.conftest import (
    PrivateRedis,
    WorkerLauncher,
    _stop,
    _worker_env,
    no_sweep_by_the_session_worker,  # noqa: F401 - a fixture used below
)
from tests.tradeplatform.gunicorn_server import Gunicorn, gunicorn_start, gunicorn_stop
from tradeplatform.postgres.budget import (
    PoolBounds,
    celery_pool_and_concurrency,
    default_pool_bounds,
    detect_process_kind,
    pool_bounds_from_env,
)

ROOT = Path(__file__).resolve().parents[2]
BUDGET = 20  # the connections this stack may hold at most (docs/operations.md's formula: 14)
APP = "tp-budget"


@pytest.mark.parametrize(
    ("argv", "environ", "kind"),
    [
        (["/venv/bin/gunicorn", "--config", "x", "tradeplatform.wsgi"], {}, "web"),
        (["/venv/bin/celery", "-A", "tradeplatform", "worker"], {}, "worker"),
        (["/usr/lib/python3/site-packages/celery/__main__.py", "-A", "t", "worker"], {}, "worker"),
        (["/venv/bin/celery", "-A", "tradeplatform", "beat"], {}, "beat"),
        (["manage.py", "jobs_recover"], {}, "command"),
        (["manage.py", "runserver"], {}, "web"),
        (["/venv/bin/pytest", "tests"], {}, "test"),
        (["manage.py", "migrate"], {"TP_PROCESS_KIND": "Worker"}, "worker"),
    ],
)
def test_the_process_kind_comes_from_tp_process_kind_else_the_command_line(
    argv: list[str], environ: dict[str, str], kind: str
) -> None:
    assert detect_process_kind(environ, argv) == kind


def test_an_unknown_tp_process_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="TP_PROCESS_KIND"):
        detect_process_kind({"TP_PROCESS_KIND": "webb"}, ["manage.py"])


def test_a_pool_holds_what_the_threads_of_its_process_can_use_at_once() -> None:
    def bounds(kind: str, argv: list[str] | None = None, threads: int = 4) -> PoolBounds:
        pool, concurrency = celery_pool_and_concurrency(argv or [], {})
        return default_pool_bounds(
            kind, web_threads=threads, celery_pool=pool, celery_concurrency=concurrency
        )

    assert bounds("web") == PoolBounds(1, 4)
    assert bounds("web", threads=8) == PoolBounds(1, 8)
    # A prefork pool process runs one task at a time, whatever the worker's concurrency.
    assert bounds("worker", ["celery", "worker", "--concurrency", "8"]) == PoolBounds(1, 1)
    assert bounds("worker", ["celery", "worker", "-P", "threads", "-c", "6"]) == PoolBounds(1, 6)
    assert bounds("worker", ["celery", "worker", "--pool=threads", "--concurrency=3"]) == (
        PoolBounds(1, 3)
    )
    assert bounds("beat") == PoolBounds(1, 1)
    assert bounds("command") == PoolBounds(1, 2)


def test_the_environment_overrides_the_pool_of_the_kind() -> None:
    web = PoolBounds(1, 4)
    assert pool_bounds_from_env(web, min_size=None, max_size=None, overflow=None) == web
    assert pool_bounds_from_env(web, min_size=2, max_size=6, overflow=None) == PoolBounds(2, 6)
    # The older DB_POOL_SIZE + DB_POOL_OVERFLOW still mean minimum and extra connections.
    assert pool_bounds_from_env(web, min_size=3, max_size=None, overflow=5) == PoolBounds(3, 8)
    # A minimum above the kind's maximum raises the maximum (psycopg needs max >= min).
    assert pool_bounds_from_env(web, min_size=6, max_size=None, overflow=None) == PoolBounds(6, 6)


def test_settings_build_the_pool_from_the_bounds() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    pool = settings.DATABASES["default"]["OPTIONS"]["pool"]
    assert (pool["min_size"], pool["max_size"]) == (
        settings.DB_POOL_BOUNDS.min_size,
        settings.DB_POOL_BOUNDS.max_size,
    )


# --- the whole stack -------------------------------------------------------------------


class ActivitySampler:
    """Samples this stack's connections (by application_name) until stopped; keeps the peaks."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.peak_total = 0
        self.peak_by_app: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ActivitySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        import psycopg

        db = settings.DATABASES["default"]
        with psycopg.connect(
            host=db["HOST"], port=db.get("PORT") or 5432, user=db["USER"],
            password=db.get("PASSWORD") or None, dbname="postgres", autocommit=True,
        ) as conn:  # fmt: skip
            while not self._stop.is_set():
                rows = conn.execute(
                    "SELECT application_name, count(*) FROM pg_stat_activity"
                    " WHERE datname = %s AND application_name LIKE %s GROUP BY 1",
                    (self.database, f"{APP}-%"),
                ).fetchall()
                self.peak_total = max(self.peak_total, sum(n for _, n in rows))
                for app, count in rows:
                    self.peak_by_app[app] = max(self.peak_by_app[app], count)
                time.sleep(0.05)


def _stack_env(redis: PrivateRedis, tmp: Path) -> dict[str, str]:
    env = _worker_env(tmp)  # the test database, short leases, a fast recovery sweep
    for name in ("DB_POOL_SIZE", "DB_POOL_MIN_SIZE", "DB_POOL_MAX_SIZE", "DB_POOL_OVERFLOW"):
        env.pop(name, None)  # the production defaults of each kind are what is tested
    env.update(
        REDIS_URL=redis.url(0),
        CELERY_BROKER_URL=redis.url(1),
        BACKTEST_USER_MAX_RUNNING="0",
        DOTENV_FILE="",
    )
    return env


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.kill()


def _queued_backtests(monkeypatch: pytest.MonkeyPatch, count: int) -> list[int]:
    """Queued rows whose message is lost: only a recovery sweep publishes them."""
    monkeypatch.setattr("backtesting.jobs.lifecycle.task_enqueue_on_commit", lambda *a, **k: None)
    ids = []
    for _ in range(count):
        owner: Any = TraderFactory()
        strategy: Any = StrategyFactory(owner=owner)
        version = strategy.versions.get()
        ids.append(backtest_submit(owner=owner, data=make_input(version)).pk)
    long_ago = timezone.now() - timedelta(hours=1)
    Backtest.objects.filter(pk__in=ids).update(queued_at=long_ago, lease_expires_at=None)
    return ids


def _jobs_recover(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "manage.py", "jobs_recover"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)


def _signed_in_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def _hammer(server: Gunicorn, requests: int, cookie: str) -> list[int | str]:
    """The dashboard of a signed-in user: the session, the user and the page's own reads."""

    def get(_: int) -> int | str:
        request = urllib.request.Request(server.url("/"), headers={"Cookie": cookie})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:  # the body names the failing check
            return f"{error.code} {error.read().decode()[:300]}"

    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(get, range(requests)))


def _wait_finished(ids: list[int], timeout: float = 120.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = list(Backtest.objects.filter(pk__in=ids).values_list("status", flat=True))
        if all(status == BacktestStatus.SUCCEEDED for status in statuses):
            return statuses
        time.sleep(0.3)
    return list(Backtest.objects.filter(pk__in=ids).values_list("status", flat=True))


@pytest.mark.slow
def test_two_web_workers_two_celery_workers_and_the_sweep_stay_under_the_budget(
    transactional_db,
    instrument,  # noqa: F811
    no_sweep_by_the_session_worker,  # noqa: F811 - no session worker of another module sweeps
    private_redis,
    tmp_path,
    monkeypatch,
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the budget is PostgreSQL's max_connections")
    (tmp_path / "metrics").mkdir()
    env = _stack_env(private_redis, tmp_path)
    ids = _queued_backtests(monkeypatch, 4)
    cookie = _signed_in_cookie(Backtest.objects.get(pk=ids[0]).owner)
    sweep_env = {**env, "BACKTEST_REQUEUE_AFTER_SECONDS": "0", "PGAPPNAME": f"{APP}-sweep"}
    launcher = WorkerLauncher(tmp_path, env)
    workers, web = [], None
    with ActivitySampler(connection.settings_dict["NAME"]) as sampler:
        try:
            # The sweep publishes the four lost jobs (before any worker could sweep them)...
            first_sweep = _jobs_recover(sweep_env)
            for n in (1, 2):
                app_env = {"PGAPPNAME": f"{APP}-worker{n}"}
                workers.append(launcher.start(queues="backtests", env=app_env))
            # gunicorn_start's DB_POOL_SIZE=1 is the web kind's minimum anyway.
            web_env = {**env, "GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "4"}
            web = gunicorn_start(tmp_path / "web", env={**web_env, "PGAPPNAME": f"{APP}-web"})
            # ...then web requests, the jobs and a second sweep run side by side.
            with ThreadPoolExecutor(max_workers=1) as background:
                second_sweep = background.submit(_jobs_recover, sweep_env)
                statuses = _hammer(web, 400, cookie)
                finished = _wait_finished(ids)
                statuses += _hammer(web, 200, cookie)
                second_returncode = second_sweep.result().returncode
        finally:
            if web is not None:
                gunicorn_stop(web)
            for worker in workers:
                _stop(worker.process)
    peaks = f"peak connections {sampler.peak_total}, by process {dict(sampler.peak_by_app)}"
    print(peaks)  # noqa: T201 - measured, printed; only the budget is asserted
    assert first_sweep.returncode == second_returncode == 0, first_sweep.stderr
    assert "4 job(s) recovered." in first_sweep.stdout
    assert set(statuses) == {200}
    assert finished == [BacktestStatus.SUCCEEDED] * 4
    # Every kind of process was exercised, and within its own share...
    assert 1 <= sampler.peak_by_app[f"{APP}-web"] <= 2 * 4
    # Which worker takes the four jobs is the broker's choice (the first one ready may reserve
    # them all): the workers together were seen, and neither went over its share.
    worker_peaks = [sampler.peak_by_app.get(f"{APP}-worker{n}", 0) for n in (1, 2)]
    assert max(worker_peaks) >= 1, sampler.peak_by_app
    assert all(peak <= 1 + 1 for peak in worker_peaks)  # pool process + sweep
    assert sampler.peak_by_app[f"{APP}-sweep"] <= 2  # too brief to be seen every time
    # ...and the whole stack within the budget.
    assert sampler.peak_total <= BUDGET
