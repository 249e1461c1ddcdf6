"""Redis as a cache stopped under a running app: backtests are still accepted and run.

The cache only accelerates bar loading, the cancel poll and the recovery sweep's lock; all of
them have the database behind them. The web side (this process) and a real worker are both
pointed at a private redis-server that was started and then stopped; the broker stays up.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.conf import settings as django_settings

from backtesting import services
from backtesting.models import BacktestStatus
from tests.integration.conftest import PrivateRedis
from tests.integration.test_backtest_worker import finished, post, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _worker_env(stopped: PrivateRedis) -> dict[str, str]:
    # The broker is named, or a worker without CELERY_BROKER_URL would use the cache's Redis.
    return {"REDIS_URL": stopped.url(1), "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL}


@pytest.fixture
def stopped_cache(private_redis: PrivateRedis, settings) -> PrivateRedis:
    """This process's cache on the private Redis, which is then stopped."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django_prometheus.cache.backends.redis.RedisCache",
            "LOCATION": private_redis.url(1),
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
            },
        }
    }
    private_redis.kill()
    return private_redis


def test_a_backtest_submitted_and_run_while_the_cache_is_down_succeeds(
    job_setup: dict[str, Any], stopped_cache: PrivateRedis, start_worker: Any, monkeypatch
) -> None:
    queue = f"it-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(services, "BACKTEST_QUEUE", queue)
    worker = start_worker(queues=queue, env=_worker_env(stopped_cache))

    pk = post(job_setup, spin=60_000)  # asserts the 202; runs long enough to poll for cancel
    done = wait_for(lambda: finished(pk), 60, "the backtest to finish without a cache")
    assert done.status == BacktestStatus.SUCCEEDED, done.error_message
    assert done.attempts == 1 and done.trades.exists()
    # Told once per process (the main one sweeps every 0.5 s, the pool one ran the job), not
    # for every sweep, bar load and cancel poll.
    assert 1 <= worker.log().count("cache unavailable; going without it") <= 2


def test_a_job_whose_message_was_lost_is_recovered_while_the_cache_is_down(
    job_setup: dict[str, Any],
    no_sweep_by_the_session_worker: None,  # before the cache is switched to the stopped one
    stopped_cache: PrivateRedis,
    start_worker: Any,
    monkeypatch,
) -> None:
    queue = f"it-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(services, "BACKTEST_QUEUE", queue)
    # The web process dies between the commit and the publish: only the sweep can find it.
    monkeypatch.setattr(services, "backtest_enqueue_on_commit", lambda **kwargs: None)
    pk = post(job_setup, spin=0)
    start_worker(queues=queue, env=_worker_env(stopped_cache))

    # Without the cache there is no sweep lock; the sweep must run anyway.
    done = wait_for(lambda: finished(pk), 60, "the lost job to be recovered")
    assert done.status == BacktestStatus.SUCCEEDED, done.error_message
    assert done.attempts == 1
