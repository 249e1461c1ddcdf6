"""Per-user fairness with real workers: one user's CPU-bound jobs cannot hold every slot.

Two worker processes (one slot each) on a queue of this test's own. User 1 submits two
strategies that spin until the sandbox's CPU limit stops them; user 2 then submits a quick
backtest. Without the per-user limit both slots spin and user 2 waits for the CPU limit.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from backtesting import services
from backtesting.models import Backtest, BacktestStatus
from tests.backtesting.conftest import seed_bars
from tests.factories import StrategyFactory, StrategyVersionFactory, TraderFactory
from tests.integration.conftest import SLOW_CODE, SLOW_PARAMS
from tests.integration.test_backtest_worker import finished, post, status_of, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CPU_LIMIT_SECONDS = 8  # each of user 1's jobs holds a slot for at least this long
SPIN = 1_000_000  # far more work than the CPU limit allows


@pytest.fixture
def own_queue(monkeypatch) -> str:
    queue = f"it-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(services, "BACKTEST_QUEUE", queue)
    return queue


def _trader(name: str) -> dict[str, Any]:
    owner: Any = TraderFactory(username=f"{name}-{uuid.uuid4().hex[:6]}")
    strategy = StrategyFactory(owner=owner, code="")
    StrategyVersionFactory(strategy=strategy, code=SLOW_CODE, parameters=SLOW_PARAMS,
                           class_name="SlowCross")  # fmt: skip
    client = APIClient()
    client.force_authenticate(owner)
    return {"owner": owner, "client": client, "strategy": strategy}


def _finished_within(pk: int, timeout: float) -> Backtest:
    return wait_for(lambda: finished(pk), timeout, f"backtest {pk} to finish")


def _span(backtest: Backtest) -> tuple[datetime, datetime]:
    """When it started and finished (both set once it finished after running)."""
    assert backtest.started_at is not None and backtest.finished_at is not None
    return backtest.started_at, backtest.finished_at


def test_a_second_users_backtest_starts_while_the_first_users_two_jobs_spin(
    transactional_db, own_queue, start_worker
) -> None:
    seed_bars("AAA", 500)
    first_user, second_user = _trader("spinner"), _trader("quick")
    env = {
        "BACKTEST_SANDBOX_CPU_SECONDS": str(CPU_LIMIT_SECONDS),
        "BACKTEST_USER_MAX_RUNNING": "1",
        "BACKTEST_FAIRNESS_DEFER_SECONDS": "1",
    }
    workers = [start_worker(queues=own_queue, env=env) for _ in range(2)]

    spinning = [post(first_user, spin=SPIN), post(first_user, spin=SPIN)]
    wait_for(lambda: any(status_of(pk).started_at for pk in spinning), 60, "a spinner to start")
    quick = post(second_user, spin=0)

    done = wait_for(lambda: finished(quick), 120, "user 2's backtest to finish")
    assert done.status == BacktestStatus.SUCCEEDED, done.error_message
    assert done.attempts == 1
    spans = sorted(_span(_finished_within(pk, 180)) for pk in spinning)
    quick_started = _span(done)[0]
    # User 2 did not wait for either of user 1's jobs to give its slot back...
    assert quick_started < spans[0][1]
    # ...because user 1 ran one job at a time, on whichever worker, each counted once.
    assert spans[1][0] >= spans[0][1]
    runs = [status_of(pk) for pk in spinning]
    assert [bt.attempts for bt in runs] == [1, 1]
    assert Backtest.objects.filter(owner=first_user["owner"]).count() == 2
    assert any("backtest deferred" in worker.log() for worker in workers)
