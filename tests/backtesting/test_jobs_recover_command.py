"""`manage.py jobs_recover`: the one-shot sweep a Kubernetes CronJob runs."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from backtesting import tasks
from backtesting.models import Backtest, BacktestStatus


@pytest.fixture
def published(monkeypatch) -> list[tuple[int, str]]:
    sent: list[tuple[int, str]] = []

    def apply_async(args: tuple[int], headers: dict[str, Any], queue: str) -> None:
        sent.append((args[0], queue))

    monkeypatch.setattr(tasks.backtest_execute_task, "apply_async", apply_async)
    return sent


def _run(capture: Callable[..., AbstractContextManager[Any]]) -> str:
    out = StringIO()
    with capture(execute=True):
        call_command("jobs_recover", stdout=out)
    return out.getvalue()


def test_jobs_recover_requeues_a_job_whose_worker_was_lost_and_says_so(
    submit, published, django_capture_on_commit_callbacks
) -> None:
    backtest = submit()
    Backtest.objects.filter(pk=backtest.pk).update(
        status=BacktestStatus.RUNNING, claim_token="dead-worker", attempts=1,
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )  # fmt: skip

    output = _run(django_capture_on_commit_callbacks)

    assert f"backtest: 1 requeued after their worker was lost [{backtest.pk}]" in output
    assert "1 job(s) recovered." in output
    assert published == [(backtest.pk, "backtests")]
    backtest.refresh_from_db()
    assert backtest.status == BacktestStatus.QUEUED and backtest.claim_token == ""


def test_jobs_recover_with_nothing_to_do_publishes_nothing(
    submit, published, django_capture_on_commit_callbacks
) -> None:
    submit()  # queued just now: its message is presumed on its way

    output = _run(django_capture_on_commit_callbacks)

    assert "0 job(s) recovered." in output and published == []
