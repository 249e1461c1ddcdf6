"""A worker on a Redis that is killed and started again without persistence, as in an outage.

The worker runs as `make run` runs it (gossip, mingle and broker heartbeats on), on a private
redis-server that is its broker (db 0) and its cache (db 1), as one Redis serves both in
production; this test publishes there too. Killing Redis loses every message and unacked
entry: the worker must reconnect and keep consuming, and the recovery sweep, with the shipped
lease, interval and re-queue delay, must bring back the job whose message was lost.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from django.conf import settings

from backtesting import services
from backtesting.models import BacktestStatus, Trade
from tests.integration.conftest import PrivateRedis, Worker
from tests.integration.test_backtest_worker import finished, post, status_of, wait_for
from tradeplatform.celery import app as celery_app

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# What issue 10 asks: a job lost with the broker is back within about a minute.
RECOVERY_TARGET_SECONDS = 60.0
# Generous: a loaded 2-core machine runs a few-second backtest several times slower.
SLACK_SECONDS = 60.0


@pytest.fixture
def own_queue(monkeypatch) -> str:
    queue = f"it-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(services, "BACKTEST_QUEUE", queue)
    return queue


@pytest.fixture
def publishing_to_private_redis(
    private_redis: PrivateRedis, worker_launcher: Any, monkeypatch
) -> PrivateRedis:
    """This process publishes (submits) to the private broker too, through fresh pools.

    After `worker_launcher`, which copies this environment for every worker of the session.
    """
    monkeypatch.setenv("CELERY_BROKER_WRITE_URL", private_redis.url(0))
    monkeypatch.setattr(celery_app, "_pool", None)
    monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)
    return private_redis


def _shipped_recovery_settings() -> dict[str, str]:
    """The default lease, sweep interval and re-queue delay (conftest shortens them)."""
    names = (
        "BACKTEST_LEASE_SECONDS",
        "BACKTEST_RECOVERY_INTERVAL_SECONDS",
        "BACKTEST_REQUEUE_AFTER_SECONDS",
    )
    return {name: str(getattr(settings, name)) for name in names}


def _ran_exactly_once(pk: int) -> None:
    done = status_of(pk)
    assert done.status == BacktestStatus.SUCCEEDED, done.error_message
    assert done.attempts == 1
    seqs = list(Trade.objects.filter(backtest_id=pk).values_list("seq", flat=True))
    assert seqs and len(seqs) == len(set(seqs))


def _alive(worker: Worker) -> None:
    assert worker.process.poll() is None, f"the worker exited:\n{worker.log()[-4000:]}"


def test_a_worker_survives_broker_restarts_and_the_lost_job_comes_back_once(
    job_setup: dict[str, Any],
    own_queue: str,
    no_sweep_by_the_session_worker: None,
    publishing_to_private_redis: PrivateRedis,
    start_worker: Any,
) -> None:
    redis = publishing_to_private_redis
    env = {"CELERY_BROKER_URL": redis.url(0), "REDIS_URL": redis.url(1)}
    worker = start_worker(queues=own_queue, env={**env, **_shipped_recovery_settings()},
                          lean=False)  # fmt: skip
    busy = post(job_setup, spin=200_000)  # several seconds of work
    wait_for(lambda: status_of(busy).progress > 0.05, 60, "the first job to be mid-run")
    lost = post(job_setup, spin=0)  # waits in the broker behind the busy one

    # Restart while busy: the waiting message and the busy one's unacked entry are gone.
    restarted = time.monotonic()
    redis.restart()
    wait_for(lambda: finished(busy), 60 + SLACK_SECONDS, "the busy job to finish")
    _alive(worker)
    _ran_exactly_once(busy)

    deadline = RECOVERY_TARGET_SECONDS + SLACK_SECONDS
    wait_for(lambda: finished(lost), deadline, "the lost job to be recovered")
    recovered_after = time.monotonic() - restarted
    _ran_exactly_once(lost)

    # Restart while idle: the next submission is consumed once the worker has reconnected.
    restarted = time.monotonic()
    redis.restart()
    after = post(job_setup, spin=0)
    wait_for(lambda: finished(after), 30 + SLACK_SECONDS, "a job submitted after the restart")
    consumed_after = time.monotonic() - restarted
    _ran_exactly_once(after)
    _alive(worker)
    print(  # noqa: T201 - the measured times, shown with -s (docs/backtests.md quotes them)
        f"\nbroker restart: the lost job finished {recovered_after:.1f} s after the restart; "
        f"a job submitted after a restart of an idle worker finished in {consumed_after:.1f} s"
    )
