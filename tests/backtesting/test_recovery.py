"""The recovery sweep: which rows it re-publishes, that it does so once, and its lock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from backtesting import tasks
from backtesting.jobs import metrics, recovery
from backtesting.models import Backtest, BacktestStatus
from tests.backtesting.conftest import execute_job

Published = list[tuple[int, str, dict[str, Any]]]


@pytest.fixture
def published(monkeypatch) -> Published:
    """What the sweep would have put on the broker: (backtest id, queue, headers)."""
    sent: Published = []

    def apply_async(args: tuple[int], headers: dict[str, Any], queue: str) -> None:
        sent.append((args[0], queue, headers))

    monkeypatch.setattr(tasks.backtest_execute_task, "apply_async", apply_async)
    return sent


@pytest.fixture
def sweep(
    django_capture_on_commit_callbacks: Callable[..., AbstractContextManager[Any]],
) -> Callable[..., recovery.RecoveryReport]:
    def _sweep(**kwargs: Any) -> recovery.RecoveryReport:
        with django_capture_on_commit_callbacks(execute=True):
            return recovery.job_recover_stale(Backtest, **kwargs)

    return _sweep


@pytest.fixture(autouse=True)
def _no_sweep_lock() -> Iterator[None]:
    cache.delete(recovery.SWEEP_LOCK_KEY)
    yield
    cache.delete(recovery.SWEEP_LOCK_KEY)


def _set(backtest: Backtest, **fields: Any) -> Backtest:
    Backtest.objects.filter(pk=backtest.pk).update(**fields)
    backtest.refresh_from_db()
    return backtest


def _running(backtest: Backtest, lease_in: float, **fields: Any) -> Backtest:
    lease = timezone.now() + timedelta(seconds=lease_in)
    fields = {"claim_token": "dead-worker", **fields}
    return _set(backtest, status=BacktestStatus.RUNNING, attempts=1, lease_expires_at=lease,
                progress=0.4, **fields)  # fmt: skip


def _recovered(reason: str) -> float:
    return metrics.RECOVERED.labels(reason)._value.get()


def test_a_running_job_whose_lease_expired_is_queued_again_and_published_once(
    submit, published, sweep, settings
) -> None:
    backtest = _running(submit(), lease_in=-1, request_id="req-0123456789abcdef")
    before = _recovered("lease_expired")
    report = sweep()
    assert report.requeued_running == [backtest.pk]
    assert published == [(backtest.pk, "backtests", {"request_id": "req-0123456789abcdef"})]
    backtest.refresh_from_db()
    assert backtest.status == BacktestStatus.QUEUED and backtest.claim_token == ""
    assert backtest.progress == 0.0 and backtest.attempts == 1
    assert backtest.lease_expires_at is not None
    assert backtest.lease_expires_at > timezone.now() + timedelta(
        seconds=settings.BACKTEST_REQUEUE_AFTER_SECONDS - 5
    )
    assert _recovered("lease_expired") == before + 1
    assert sweep().total == 0 and len(published) == 1  # the next sweep leaves it to its message


def test_a_running_job_with_a_live_lease_is_left_to_its_worker(submit, published, sweep) -> None:
    backtest = _running(submit(), lease_in=20)
    assert sweep().total == 0 and published == []
    assert Backtest.objects.get(pk=backtest.pk).claim_token == "dead-worker"


def test_a_lost_running_job_whose_cancel_was_asked_ends_cancelled(submit, published, sweep) -> None:
    backtest = _running(submit(), lease_in=-1, cancel_requested=True)
    assert sweep().cancelled == [backtest.pk] and published == []
    backtest.refresh_from_db()
    assert backtest.status == BacktestStatus.CANCELLED and backtest.finished_at is not None


def test_a_queued_job_is_published_again_only_once_it_waited_too_long(
    submit, published, sweep, settings
) -> None:
    settings.BACKTEST_REQUEUE_AFTER_SECONDS = 60
    fresh, old = submit(), submit()
    _set(old, queued_at=timezone.now() - timedelta(seconds=61))
    assert sweep().requeued_queued == [old.pk]
    assert [pk for pk, _, _ in published] == [old.pk]
    # Idempotent: its new message has a lease, so sweeping again publishes nothing...
    assert sweep().total == 0 and len(published) == 1
    # ...until that lease expires too (the message was lost again).
    assert sweep(now=timezone.now() + timedelta(seconds=61)).requeued_queued == [
        old.pk,
        fresh.pk,
    ]


def test_a_long_backlog_that_workers_drain_in_order_is_not_published_twice(
    submit, published, sweep, settings, owner
) -> None:
    settings.BACKTEST_REQUEUE_AFTER_SECONDS = 60
    owner.quota_concurrent_backtests = 3
    owner.save()
    now = timezone.now()
    passed, claimed, in_line = submit(), submit(), submit()
    _set(passed, queued_at=now - timedelta(seconds=300))
    _running(claimed, lease_in=20, queued_at=now - timedelta(seconds=200))
    _set(in_line, queued_at=now - timedelta(seconds=100))  # behind the running job: its turn comes
    # `passed` was submitted before the running job yet is still queued: its message is lost.
    assert sweep().requeued_queued == [passed.pk]
    assert [pk for pk, _, _ in published] == [passed.pk]


def test_a_backlog_whose_workers_stopped_is_published_again(
    submit, published, sweep, settings
) -> None:
    settings.BACKTEST_REQUEUE_AFTER_SECONDS = 60
    now = timezone.now()
    dead, waiting = submit(), submit()
    _running(dead, lease_in=-1, queued_at=now - timedelta(seconds=200))  # its worker died
    _set(waiting, queued_at=now - timedelta(seconds=100))
    report = sweep()
    assert report.requeued_running == [dead.pk] and report.requeued_queued == [waiting.pk]


def test_finished_and_cancelled_rows_are_never_touched(submit, published, sweep) -> None:
    long_ago = timezone.now() - timedelta(days=1)
    for status in (BacktestStatus.SUCCEEDED, BacktestStatus.FAILED, BacktestStatus.CANCELLED):
        _set(submit(), status=status, queued_at=long_ago, lease_expires_at=long_ago)
    _set(submit(), queued_at=long_ago, cancel_requested=True)  # cancelled while queued: racing
    assert sweep().total == 0 and published == []


def test_a_sweep_that_lost_the_race_to_a_redelivered_message_does_nothing(
    submit, published, sweep
) -> None:
    backtest = _running(submit(), lease_in=-1)
    stale = recovery._expired_running(Backtest, timezone.now())
    _running(backtest, lease_in=20, claim_token="redelivered")  # re-claimed in between
    report = recovery.RecoveryReport()
    recovery._recover_running(Backtest, stale[0], timezone.now(), report)
    assert report.total == 0 and published == []
    assert Backtest.objects.get(pk=backtest.pk).claim_token == "redelivered"


def test_the_recovered_message_and_a_late_duplicate_run_the_job_exactly_once(
    submit, published, sweep
) -> None:
    backtest = _running(submit(), lease_in=-1)
    sweep()
    first = execute_job(backtest.pk)
    assert first is not None and first.status == BacktestStatus.SUCCEEDED and first.attempts == 2
    trades = list(first.trades.values_list("seq", flat=True))
    second = execute_job(backtest.pk)  # e.g. Redis redelivering the original
    assert second is not None and second.attempts == 2 and second.finished_at == first.finished_at
    assert list(second.trades.values_list("seq", flat=True)) == trades


def test_only_one_worker_sweeps_per_interval(submit, published, settings) -> None:
    settings.BACKTEST_RECOVERY_INTERVAL_SECONDS = 30
    _running(submit(), lease_in=-1)
    assert recovery.jobs_recover_stale_if_due(owner="worker-a") is not None
    assert recovery.jobs_recover_stale_if_due(owner="worker-b") is None
    assert cache.get(recovery.SWEEP_LOCK_KEY) == "worker-a"
