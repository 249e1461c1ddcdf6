"""Per-user fairness at claim time: one user's jobs cannot hold every worker slot.

The service is called directly; a job that may not start yet is deferred (left `queued`, no
attempt counted, published again with a countdown). tests/integration/test_fairness.py shows
the same with real workers.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from backtesting import tasks
from backtesting.models import Backtest, BacktestStatus
from backtesting.services import backtest_submit
from tests.backtesting.conftest import execute_job, make_input
from tests.factories import StrategyFactory


@pytest.fixture
def published(monkeypatch) -> list[dict[str, Any]]:
    """Messages published on commit: the job id, queue and countdown of each."""
    sent: list[dict[str, Any]] = []

    def apply_async(args: tuple[int], **options: Any) -> None:
        sent.append({"id": args[0], **options})

    monkeypatch.setattr(tasks.backtest_execute_task, "apply_async", apply_async)
    return sent


def _running_elsewhere(backtest: Backtest, lease_in: float = 30) -> None:
    """As if a worker on another machine were running it now."""
    Backtest.objects.filter(pk=backtest.pk).update(
        status=BacktestStatus.RUNNING, claim_token="other-worker", attempts=1,
        started_at=timezone.now(), lease_expires_at=timezone.now() + timedelta(seconds=lease_in),
    )  # fmt: skip


def _deliver(backtest: Backtest, capture: Any) -> Backtest:
    with capture(execute=True):
        return execute_job(backtest.pk)


@pytest.fixture
def other_users_job(instrument, other_user) -> Backtest:
    strategy: Any = StrategyFactory(owner=other_user)
    version = strategy.versions.get()
    return backtest_submit(owner=other_user, data=make_input(version))


def test_a_users_second_job_waits_while_their_first_runs_without_counting_an_attempt(
    submit, published, django_capture_on_commit_callbacks, settings
) -> None:
    settings.BACKTEST_FAIRNESS_DEFER_SECONDS = 4.0
    first, second = submit(), submit()
    _running_elsewhere(first)

    waiting = _deliver(second, django_capture_on_commit_callbacks)

    assert waiting.status == BacktestStatus.QUEUED
    assert waiting.attempts == 0 and waiting.started_at is None
    # It comes back by itself, a little later, on its own queue.
    assert [(m["id"], m["queue"]) for m in published] == [(second.pk, "backtests")]
    assert 2.0 <= published[0]["countdown"] <= 4.0
    # ...and the recovery sweep leaves it alone meanwhile (its message lease).
    assert waiting.lease_expires_at is not None and waiting.lease_expires_at > timezone.now()


def test_another_users_job_starts_while_the_first_users_second_job_waits(
    submit, other_users_job, published, django_capture_on_commit_callbacks
) -> None:
    first, second = submit(), submit()
    _running_elsewhere(first)
    assert _deliver(second, django_capture_on_commit_callbacks).status == BacktestStatus.QUEUED

    done = _deliver(other_users_job, django_capture_on_commit_callbacks)

    assert done.status == BacktestStatus.SUCCEEDED and done.attempts == 1


def test_the_waiting_job_runs_once_the_users_first_job_finished(
    submit, published, django_capture_on_commit_callbacks
) -> None:
    first, second = submit(), submit()
    _running_elsewhere(first)
    _deliver(second, django_capture_on_commit_callbacks)
    Backtest.objects.filter(pk=first.pk).update(
        status=BacktestStatus.SUCCEEDED, finished_at=timezone.now(), lease_expires_at=None
    )

    done = _deliver(second, django_capture_on_commit_callbacks)

    assert done.status == BacktestStatus.SUCCEEDED and done.attempts == 1


def test_a_job_whose_worker_died_does_not_hold_its_owners_share(
    submit, published, django_capture_on_commit_callbacks
) -> None:
    lost, second = submit(), submit()
    _running_elsewhere(lost, lease_in=-1)  # its lease expired: the recovery sweep will requeue it

    done = _deliver(second, django_capture_on_commit_callbacks)

    assert done.status == BacktestStatus.SUCCEEDED


def test_a_reclaimed_job_of_a_busy_user_goes_back_to_the_queue(
    submit, published, django_capture_on_commit_callbacks
) -> None:
    running, lost = submit(), submit()
    _running_elsewhere(running)
    _running_elsewhere(lost, lease_in=-1)

    waiting = _deliver(lost, django_capture_on_commit_callbacks)

    assert waiting.status == BacktestStatus.QUEUED and waiting.claim_token == ""
    assert waiting.attempts == 1  # the lost run counted; this deferral does not
    assert [m["id"] for m in published] == [lost.pk]


def test_the_per_user_limit_is_a_setting(
    submit, published, django_capture_on_commit_callbacks, settings
) -> None:
    settings.BACKTEST_USER_MAX_RUNNING = 2
    first, second = submit(), submit()
    _running_elsewhere(first)

    assert _deliver(second, django_capture_on_commit_callbacks).status == BacktestStatus.SUCCEEDED


def test_a_cancelled_waiting_job_is_not_started_later(
    submit, published, django_capture_on_commit_callbacks
) -> None:
    from backtesting.services import backtest_cancel

    first, second = submit(), submit()
    _running_elsewhere(first)
    _deliver(second, django_capture_on_commit_callbacks)
    backtest_cancel(backtest=second)
    Backtest.objects.filter(pk=first.pk).update(status=BacktestStatus.SUCCEEDED)

    assert _deliver(second, django_capture_on_commit_callbacks).status == BacktestStatus.CANCELLED


def test_a_job_claimed_once_the_owners_other_job_finished_starts_after_that_finish(
    submit, settings, monkeypatch
) -> None:
    from backtesting.jobs import lifecycle

    settings.BACKTEST_USER_MAX_RUNNING = 1
    first, second = submit(), submit()
    _running_elsewhere(first)
    real_count = lifecycle._owner_at_limit

    def first_finishes_while_the_claim_waits(*args: Any) -> bool:
        # The claim waited for the owner's lock; meanwhile the other job committed its finish.
        Backtest.objects.filter(pk=first.pk).update(
            status=BacktestStatus.SUCCEEDED, finished_at=timezone.now(), lease_expires_at=None
        )
        return real_count(*args)

    monkeypatch.setattr(lifecycle, "_owner_at_limit", first_finishes_while_the_claim_waits)
    outcome = lifecycle.job_claim(Backtest, job_id=second.pk, token="t" * 32)
    assert outcome is lifecycle.ClaimOutcome.CLAIMED
    first.refresh_from_db()
    second.refresh_from_db()
    # One job at a time for this owner, as the rows tell it: no overlap of the two runs.
    assert second.started_at >= first.finished_at
