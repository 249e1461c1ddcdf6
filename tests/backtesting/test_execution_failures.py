"""Jobs that cannot end well: results that cannot be stored, runaway attempts, huge errors.

A poison job (one whose every run fails the same way) must end `failed` with a message, once,
and free the user's slot; only infrastructure faults are retried. Whatever user-controlled
text a job keeps is bounded when it is stored, whatever the sandbox let through.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError
from django.utils import timezone

from backtesting import execution, sandbox, tasks
from backtesting.jobs import recovery
from backtesting.models import Backtest, BacktestStatus, DeadLetter, Trade
from tests.backtesting.conftest import execute_job

URL = "/api/v1/backtests/"


@pytest.fixture
def published(monkeypatch) -> list[tuple[Any, ...]]:
    sent: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        tasks.backtest_execute_task, "apply_async", lambda *a, **k: sent.append((a, k))
    )
    return sent


@pytest.fixture
def sweep(
    django_capture_on_commit_callbacks: Callable[..., AbstractContextManager[Any]],
) -> Callable[[], recovery.RecoveryReport]:
    """A recovery sweep far enough in the future that every lease and message lease expired."""

    def _sweep() -> recovery.RecoveryReport:
        later = timezone.now() + timedelta(days=1)
        with django_capture_on_commit_callbacks(execute=True):
            return recovery.job_recover_stale(Backtest, now=later)

    return _sweep


def _with_result_change(monkeypatch, change: Callable[[dict[str, Any]], None]) -> None:
    """Run the real sandbox, then alter its result as a sandbox without checks could return it."""
    real = execution.run_sandboxed

    def altered(*args: Any) -> dict[str, Any]:
        result = real(*args)
        assert result["trades"], "the sample strategy trades on the seeded bars"
        change(result)
        return result

    monkeypatch.setattr(execution, "run_sandboxed", altered)


def _long_tag(result: dict[str, Any]) -> None:
    result["trades"][1]["tag"] = "t" * 200


def _integer_out_of_range(result: dict[str, Any]) -> None:
    result["trades"][1]["bars_held"] = 2**40  # the database's integer column refuses it


def _malformed_time(result: dict[str, Any]) -> None:
    result["trades"][1]["entry_time"] = "not a time"


def _ragged_curve(result: dict[str, Any]) -> None:
    curve = result["equity_curve"]
    result["equity_curve"] = dataclasses.replace(curve, drawdown=curve.drawdown[:-1])


@pytest.mark.parametrize(
    "change", [_long_tag, _integer_out_of_range, _malformed_time, _ragged_curve]
)
def test_a_result_that_cannot_be_stored_fails_once_with_a_message_and_is_never_retried(
    submit, monkeypatch, published, sweep, change
) -> None:
    _with_result_change(monkeypatch, change)
    backtest = submit()

    done = execute_job(backtest.pk)

    assert done.status == BacktestStatus.FAILED and done.error_code == "result_not_storable"
    assert "could not be stored" in done.error_message
    assert done.attempts == 1 and done.finished_at is not None
    assert not Trade.objects.filter(backtest_id=backtest.pk).exists()  # nothing half-written
    # The user's slot is free again, and no sweep nor late delivery runs it a second time.
    assert not Backtest.objects.active().filter(owner=backtest.owner).exists()
    report = sweep()
    assert report.total == 0 and published == []
    again = execute_job(backtest.pk)
    assert again.status == BacktestStatus.FAILED and again.attempts == 1


def test_the_message_says_which_value_could_not_be_stored(submit, monkeypatch) -> None:
    _with_result_change(monkeypatch, _long_tag)
    done = execute_job(submit().pk)
    assert "tag" in done.error_message and "100" in done.error_message
    assert "t" * 101 not in done.error_message  # the offending text is not echoed whole


def test_a_result_that_cannot_be_stored_is_not_retried_by_the_task(
    submit, monkeypatch, published
) -> None:
    _with_result_change(monkeypatch, _long_tag)
    backtest = submit()
    result = tasks.backtest_execute_task.apply(args=(backtest.pk,))
    assert result.successful() and published == []
    backtest.refresh_from_db()
    assert backtest.status == BacktestStatus.FAILED and backtest.attempts == 1


def test_an_outage_while_storing_the_result_is_still_retried(submit, monkeypatch) -> None:
    backtest = submit()

    def outage(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(execution, "trades_from_result", outage)
    with pytest.raises(OperationalError):
        execution.backtest_execute(backtest_id=backtest.pk)
    backtest.refresh_from_db()
    assert backtest.status == BacktestStatus.QUEUED and backtest.error_code == ""


def test_a_job_out_of_attempts_ends_failed_and_dead_lettered_instead_of_running(
    submit, settings, monkeypatch
) -> None:
    settings.BACKTEST_MAX_ATTEMPTS = 3
    backtest = submit()
    Backtest.objects.filter(pk=backtest.pk).update(attempts=3)
    ran: list[int] = []
    monkeypatch.setattr(execution, "run_sandboxed", lambda bt, *a: ran.append(bt.pk))

    done = execute_job(backtest.pk)

    assert ran == []
    assert done.status == BacktestStatus.FAILED and done.error_code == "too_many_attempts"
    assert done.attempts == 3 and "3 times" in done.error_message
    letter = DeadLetter.objects.get(backtest_id=backtest.pk)
    assert letter.kind == "backtest" and letter.attempts == 3


def test_a_job_the_recovery_sweep_requeues_after_its_last_attempt_ends_failed(
    submit, settings, published, sweep
) -> None:
    settings.BACKTEST_MAX_ATTEMPTS = 2
    backtest = submit()
    # Its worker died (again) during the last allowed attempt.
    Backtest.objects.filter(pk=backtest.pk).update(
        status=BacktestStatus.RUNNING, claim_token="dead-worker", attempts=2,
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )  # fmt: skip
    sweep()
    assert [args[0] for args, _ in published] == [(backtest.pk,)]

    done = execute_job(backtest.pk)

    assert done.status == BacktestStatus.FAILED and done.error_code == "too_many_attempts"
    assert done.attempts == 2
    published.clear()
    assert sweep().total == 0 and published == []


def test_an_operator_requeue_gives_a_dead_lettered_job_a_fresh_budget(
    submit, settings, operator, django_capture_on_commit_callbacks
) -> None:
    from backtesting.services import dead_letter_requeue

    settings.BACKTEST_MAX_ATTEMPTS = 2
    backtest = submit()
    Backtest.objects.filter(pk=backtest.pk).update(attempts=2)
    execute_job(backtest.pk)
    with django_capture_on_commit_callbacks(execute=False):
        dead_letter_requeue(dead_letter=DeadLetter.objects.get(), user=operator)
    done = execute_job(backtest.pk)
    assert done.status == BacktestStatus.SUCCEEDED and done.attempts == 1


HUGE = 25 * 1024 * 1024


def _unbounded(error: sandbox.SandboxError, **fields: Any) -> sandbox.SandboxError:
    """The error with fields set past whatever bounds the sandbox applies: the jobs code must
    hold on its own (a new error type, or a path that skips the sandbox's checks)."""
    for name, value in fields.items():
        setattr(error, name, value)
    return error


def test_a_25_mb_error_message_is_stored_and_served_bounded_with_a_marker(
    submit, monkeypatch, owner_client
) -> None:
    def huge_error(*args: Any) -> Any:
        raise _unbounded(
            sandbox.StrategyRuntimeError(),
            message="ValueError: " + "x" * HUGE,
            traceback=[f"line {i}, in next " + "y" * 10_000 for i in range(10_000)],
        )

    monkeypatch.setattr(execution, "run_sandboxed", huge_error)
    backtest = execute_job(submit().pk)
    assert backtest.status == BacktestStatus.FAILED and backtest.error_code == "runtime_error"

    response = owner_client.get(f"{URL}{backtest.pk}/")
    assert response.status_code == 200
    assert len(response.content) < 64 * 1024
    details = response.json()["error_details"]
    assert details["message"].startswith("ValueError: xxx")
    assert "truncated" in details["message"] and f"{HUGE + 12:,}" in details["message"]
    assert "truncated" in response.json()["error_message"]
    assert 0 < len(details["traceback"]) <= 51
    assert "10,000 lines" in details["traceback"][0]  # which part was left out, and how much
    assert details["traceback"][-1].startswith("line 9999, in next")


def test_every_user_controlled_text_of_a_failure_is_bounded(submit, monkeypatch) -> None:
    problems = [
        {"code": "forbidden", "message": "m" * 100_000, "line": i, "nested": {"k": ["v" * 9999]}}
        for i in range(5_000)
    ]

    def forbidden(*args: Any) -> Any:
        raise _unbounded(
            sandbox.ForbiddenConstructError(), message="z" * 1_000_000, problems=problems
        )

    monkeypatch.setattr(execution, "run_sandboxed", forbidden)
    backtest = execute_job(submit().pk)
    assert backtest.error_code == "forbidden_construct"
    stored = json.dumps(backtest.error_details)
    assert len(stored) < 64 * 1024
    assert backtest.error_details["problems"][0]["line"] == 0
    assert len(backtest.error_message) <= 5000


def test_a_huge_print_log_is_stored_bounded_with_a_marker(submit, monkeypatch) -> None:
    real = execution.run_sandboxed

    def chatty(*args: Any) -> dict[str, Any]:
        result = real(*args)
        result["sandbox"]["logs"] = "p" * HUGE
        return result

    monkeypatch.setattr(execution, "run_sandboxed", chatty)
    backtest = execute_job(submit().pk)
    assert backtest.status == BacktestStatus.SUCCEEDED
    assert len(backtest.sandbox_log) <= 65_536 and "truncated" in backtest.sandbox_log
