"""The thin tasks: retries for outages only, then the dead-letter record (run with .apply())."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError

from backtesting import tasks
from backtesting.models import DeadLetter


@pytest.fixture
def calls(monkeypatch) -> list[int]:
    made: list[int] = []
    monkeypatch.setattr(tasks, "backoff_seconds", lambda retries: 0)
    return made


def test_a_database_outage_is_retried_then_dead_lettered(submit, calls, monkeypatch) -> None:
    backtest = submit()

    def outage(*, backtest_id: int) -> Any:
        calls.append(backtest_id)
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(tasks, "backtest_run", outage)
    tasks.backtest_execute_task.apply(args=(backtest.pk,), headers={"request_id": "req-0123456789"})
    assert len(calls) == (tasks.backtest_execute_task.max_retries or 0) + 1
    letter = DeadLetter.objects.get()
    assert letter.backtest_id == backtest.pk and letter.kind == "backtest"
    assert "OperationalError" in letter.error and letter.attempts == len(calls)


def test_a_transient_error_that_clears_succeeds_on_retry(submit, calls, monkeypatch) -> None:
    backtest = submit()

    def flaky(*, backtest_id: int) -> None:
        calls.append(backtest_id)
        if len(calls) < 3:
            raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(tasks, "backtest_run", flaky)
    tasks.backtest_execute_task.apply(args=(backtest.pk,))
    assert len(calls) == 3 and not DeadLetter.objects.exists()


def test_user_errors_are_never_retried(submit, calls, monkeypatch) -> None:
    def boom(*, backtest_id: int) -> None:
        calls.append(backtest_id)
        raise ValueError("a bug, not an outage")

    monkeypatch.setattr(tasks, "backtest_run", boom)
    result = tasks.backtest_execute_task.apply(args=(submit().pk,))
    assert isinstance(result.result, ValueError) and calls == [calls[0]]


def test_tasks_are_routed_to_their_queues(settings) -> None:
    from tradeplatform.celery import app

    route = app.amqp.router.route({}, "backtesting.backtest_execute")
    assert route["queue"].name == "backtests"
    assert app.amqp.router.route({}, "backtesting.webhook_deliver")["queue"].name == "notifications"
    assert (
        tasks.backtest_execute_task.acks_late and tasks.backtest_execute_task.reject_on_worker_lost
    )
