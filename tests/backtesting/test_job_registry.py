"""What the backtesting app registers from `ready()`: its job kind and the recovery sweep that
every worker runs (the platform itself imports no app)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from backtesting import tasks
from backtesting.jobs.recovery import SWEEP_LOCK_KEY
from backtesting.jobs.registry import job_kind_for, job_kinds
from backtesting.models import Backtest, BacktestStatus
from tradeplatform.worker_services import registered_worker_services


def test_backtest_is_a_registered_job_kind_run_by_its_task_name() -> None:
    kind = job_kind_for(Backtest)
    names = [k.name for k in job_kinds()]
    # Other apps register their kinds too (sweeps, robustness); each name once.
    assert "backtest" in names and len(names) == len(set(names))
    assert kind.task_name == tasks.backtest_execute_task.name and kind.queue == "backtests"


def test_the_registered_worker_service_recovers_a_job_whose_worker_was_lost(
    submit, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    sent: list[int] = []

    def apply_async(args: tuple[int], **options: Any) -> None:
        sent.append(args[0])

    monkeypatch.setattr(tasks.backtest_execute_task, "apply_async", apply_async)
    backtest = submit()
    Backtest.objects.filter(pk=backtest.pk).update(
        status=BacktestStatus.RUNNING, claim_token="dead-worker", attempts=1,
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )  # fmt: skip
    (service,) = [s for s in registered_worker_services() if s.name == "job-recovery"]
    cache.delete(SWEEP_LOCK_KEY)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            service.run("celery@host-a")  # what every worker's service thread calls
    finally:
        cache.delete(SWEEP_LOCK_KEY)

    assert sent == [backtest.pk]
    assert Backtest.objects.get(pk=backtest.pk).status == BacktestStatus.QUEUED


@pytest.mark.parametrize("interval", [15.0, 2.5])
def test_the_recovery_service_sweeps_at_the_configured_interval(settings, interval) -> None:
    settings.BACKTEST_RECOVERY_INTERVAL_SECONDS = interval
    (service,) = [s for s in registered_worker_services() if s.name == "job-recovery"]
    assert service.interval() == interval
