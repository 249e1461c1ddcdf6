"""backtest_submit / backtest_execute / cancel / rerun, called directly (no Celery)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError
from django.utils import timezone

from accounts.quotas import QuotaExceededError
from backtesting import execution, services
from backtesting.execution import backtest_execute
from backtesting.models import Backtest, BacktestStatus, DeadLetter, Trade
from backtesting.parameters import ParameterError
from tests.backtesting.conftest import END, START, execute_job, make_input, seed_bars
from tests.factories import StrategyFactory, StrategyVersionFactory
from tradeplatform.errors import (
    ConflictError,
    DomainValidationError,
    NotFoundError,
    PermissionDeniedError,
)


def test_submit_creates_a_queued_row_with_resolved_parameters_and_settings(submit) -> None:
    backtest = submit(parameters={"fast": 7})
    assert backtest.status == BacktestStatus.QUEUED
    assert backtest.parameters == {"fast": 7, "slow": 20}
    assert backtest.settings["initial_cash"] == 10_000.0 and "params" not in backtest.settings
    assert list(backtest.instruments.values_list("symbol", flat=True)) == ["AAA"]


def test_submit_enqueues_only_after_the_transaction_commits(
    submit, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    sent: list[Any] = []
    from backtesting import tasks

    monkeypatch.setattr(
        tasks.backtest_execute_task, "apply_async", lambda *a, **k: sent.append((a, k))
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        backtest = submit()
    assert sent == []
    for callback in callbacks:
        callback()
    assert sent[0][0] == ((backtest.pk,),)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"symbols": ["NOPE"]}, "instruments"),
        ({"start": END, "end": START}, "start"),
        ({"start": START.replace(year=2030), "end": END.replace(year=2031)}, "instruments"),
        ({"timeframe": "7m"}, "timeframe"),
        ({"settings": {"initial_cash": -5}}, "settings"),
        ({"settings": {"no_such": 1}}, "settings"),
    ],
)
def test_submit_rejects_bad_input_with_a_400(submit, overrides: dict, field: str) -> None:
    with pytest.raises(DomainValidationError) as caught:
        submit(**overrides)
    assert caught.value.status_code == 400
    assert field in caught.value.details


def test_submit_rejects_parameters_out_of_range(submit) -> None:
    with pytest.raises(ParameterError):
        submit(parameters={"fast": 1000})


def test_submit_rejects_a_strategy_owned_by_someone_else(instrument, other_user, owner) -> None:
    foreign: Any = StrategyFactory(owner=other_user)
    foreign = foreign.versions.get()
    with pytest.raises(NotFoundError):
        services.backtest_submit(owner=owner, data=make_input(foreign))


def test_submit_allows_a_shared_strategy(instrument, other_user, owner) -> None:
    shared: Any = StrategyFactory(owner=other_user, is_shared=True)
    shared = shared.versions.get()
    assert services.backtest_submit(owner=owner, data=make_input(shared)).owner == owner


def test_submit_refuses_viewers(instrument, strategy_version, viewer) -> None:
    with pytest.raises(PermissionDeniedError):
        services.backtest_submit(owner=viewer, data=make_input(strategy_version))


def test_submit_enforces_the_concurrent_quota_with_a_429(submit, settings) -> None:
    submit()
    submit()
    with pytest.raises(QuotaExceededError) as caught:
        submit()  # traders may hold two queued/running jobs by default
    assert caught.value.status_code == 429


def test_execute_runs_the_strategy_and_stores_results_and_provenance(submit) -> None:
    backtest = execute_job(submit().pk)
    assert backtest.status == BacktestStatus.SUCCEEDED, backtest.error_message
    assert backtest.progress == 1.0 and backtest.attempts == 1
    assert backtest.metrics is not None and backtest.equity_curve is not None
    assert backtest.metrics["n_trades"] == backtest.trades.filter(is_open=False).count()
    assert len(backtest.equity_curve["equity"]) == len(backtest.equity_curve["timestamps"]) > 100
    assert backtest.engine_version and len(backtest.data_fingerprint) == 64
    assert backtest.code_sha256 == backtest.strategy_version.code_sha256
    assert backtest.data_versions == {"AAA": 1} and backtest.bars_processed == 500
    assert set(backtest.timings) == {"data_load_ms", "sandbox_ms", "write_ms"}


def test_a_second_delivery_of_a_finished_job_does_nothing(submit) -> None:
    backtest = execute_job(submit().pk)
    trades = Trade.objects.filter(backtest=backtest).count()
    again = execute_job(backtest.pk)
    assert again.attempts == 1 and again.finished_at == backtest.finished_at
    assert Trade.objects.filter(backtest=backtest).count() == trades


def test_a_duplicate_delivery_of_a_job_running_elsewhere_does_nothing(submit) -> None:
    backtest = submit()
    lease = timezone.now() + timedelta(seconds=20)
    Backtest.objects.filter(pk=backtest.pk).update(
        status=BacktestStatus.RUNNING, claim_token="live-worker", attempts=1, lease_expires_at=lease
    )
    again = execute_job(backtest.pk)
    assert again is not None and again.status == BacktestStatus.RUNNING
    assert again.claim_token == "live-worker" and again.attempts == 1
    assert again.lease_expires_at == lease


def test_a_running_job_with_an_expired_lease_is_reclaimed_and_partial_trades_replaced(
    submit,
) -> None:
    backtest = submit()
    Backtest.objects.filter(pk=backtest.pk).update(
        status=BacktestStatus.RUNNING,
        claim_token="dead-worker",
        attempts=1,
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    Trade.objects.create(backtest=backtest, seq=1, symbol="AAA", direction="long", size=1,
                         entry_time=START, entry_price=1.0)  # fmt: skip
    done = execute_job(backtest.pk)
    assert done.status == BacktestStatus.SUCCEEDED and done.attempts == 2
    seqs = list(Trade.objects.filter(backtest=done).values_list("seq", flat=True))
    assert (
        len(seqs)
        == len(set(seqs))
        == (done.metrics or {})["n_trades"]
        + Trade.objects.filter(backtest=done, is_open=True).count()
    )


def test_rerun_on_unchanged_data_gives_identical_results(submit, owner) -> None:
    first = execute_job(submit().pk)
    rerun = services.backtest_rerun(backtest=first, owner=owner)
    assert services.data_changed_since(first) is False
    second = execute_job(rerun.pk)
    assert second.rerun_of_id == first.pk
    assert second.metrics == first.metrics
    assert second.equity_curve == first.equity_curve
    assert second.data_fingerprint == first.data_fingerprint

    def rows(bt: Backtest) -> list[tuple]:
        return list(
            bt.trades.order_by("seq").values_list(
                "seq", "entry_time", "entry_price", "exit_price", "net_pnl"
            )
        )

    assert rows(second) == rows(first)


def test_rerun_after_the_data_changed_says_so(submit, owner) -> None:
    first = execute_job(submit().pk)
    seed_bars("AAA", 500, seed=2)  # a re-import with different prices bumps the version
    rerun = services.backtest_rerun(backtest=first, owner=owner)
    assert services.data_changed_since(first) is True
    second = execute_job(rerun.pk)
    assert second.data_fingerprint != first.data_fingerprint


def test_user_code_errors_fail_without_retry(submit, owner, instrument) -> None:
    strategy = StrategyFactory(owner=owner, code="")
    broken = StrategyVersionFactory(
        strategy=strategy, code=BROKEN_CODE, parameters=[], class_name="Broken"
    )
    backtest = services.backtest_submit(owner=owner, data=make_input(broken, parameters={}))
    done = execute_job(backtest.pk)
    assert done.status == BacktestStatus.FAILED
    assert done.error_code == "runtime_error" and "ZeroDivisionError" in done.error_message


BROKEN_CODE = """from strategy import Strategy


class Broken(Strategy):
    def init(self):
        pass

    def next(self):
        x = 1 / 0
"""


def test_cancel_of_a_queued_job_is_immediate(submit) -> None:
    backtest = services.backtest_cancel(backtest=submit())
    assert backtest.status == BacktestStatus.CANCELLED
    assert execute_job(backtest.pk).status == BacktestStatus.CANCELLED


def test_cancel_of_a_finished_job_is_a_conflict(submit) -> None:
    backtest = execute_job(submit().pk)
    with pytest.raises(ConflictError):
        services.backtest_cancel(backtest=backtest)


def test_cancel_of_a_running_job_stops_the_sandbox(submit, monkeypatch, settings) -> None:
    settings.BACKTEST_CANCEL_POLL_SECONDS = 0.0
    backtest = submit()
    real = execution.run_sandboxed

    def cancel_then_run(bt: Backtest, *args: Any) -> Any:
        services.backtest_cancel(backtest=bt)  # the user clicks cancel mid-run
        return real(bt, *args)

    monkeypatch.setattr(execution, "run_sandboxed", cancel_then_run)
    done = execute_job(backtest.pk)
    assert done.status == BacktestStatus.CANCELLED and not done.trades.exists()


def test_cancel_of_a_running_job_is_recorded_while_the_cache_is_down(submit, request) -> None:
    backtest = submit()
    Backtest.objects.filter(pk=backtest.pk).update(status=BacktestStatus.RUNNING)
    backtest.refresh_from_db()
    request.getfixturevalue("cache_down")

    services.backtest_cancel(backtest=backtest)

    # The worker reads the row when it cannot read the cache flag.
    assert Backtest.objects.get(pk=backtest.pk).cancel_requested is True


def test_a_running_job_can_be_deleted_while_the_cache_is_down(submit, request) -> None:
    backtest = submit()
    Backtest.objects.filter(pk=backtest.pk).update(status=BacktestStatus.RUNNING)
    backtest.refresh_from_db()
    request.getfixturevalue("cache_down")

    services.backtest_delete(backtest=backtest)

    assert not Backtest.objects.filter(pk=backtest.pk).exists()


def test_a_database_error_releases_the_claim_and_propagates(submit, monkeypatch, settings) -> None:
    backtest = submit()

    def outage(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("connection refused")

    monkeypatch.setattr(execution, "bars_for_backtest", outage)
    with pytest.raises(OperationalError):
        backtest_execute(backtest_id=backtest.pk)
    backtest.refresh_from_db()
    assert backtest.status == BacktestStatus.QUEUED and backtest.claim_token == ""
    # The retry is on its way: the recovery sweep leaves the row alone until its message lease.
    lease = timedelta(seconds=settings.BACKTEST_REQUEUE_AFTER_SECONDS - 5)
    assert backtest.lease_expires_at > timezone.now() + lease


def test_dead_letter_requeue_puts_the_job_back_once(
    submit, operator, django_capture_on_commit_callbacks
) -> None:
    backtest = submit()
    Backtest.objects.filter(pk=backtest.pk).update(
        status=BacktestStatus.FAILED, error_code="infrastructure"
    )
    letter = services.dead_letter_record(
        kind="backtest", task_name="backtesting.backtest_execute", task_args=[backtest.pk],
        error="OperationalError", request_id="abcdef0123456789", backtest_id=backtest.pk,
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False):
        services.dead_letter_requeue(dead_letter=letter, user=operator)
    backtest.refresh_from_db()
    assert backtest.status == BacktestStatus.QUEUED and backtest.error_code == ""
    assert DeadLetter.objects.get().requeued_by == operator
    with pytest.raises(ConflictError):
        services.dead_letter_requeue(dead_letter=letter, user=operator)


def test_a_dead_lettered_backtest_ends_failed_so_nothing_reruns_it_behind_operators(
    submit,
) -> None:
    backtest = submit()  # as left by the last attempt: claim released, `queued`
    services.dead_letter_record(
        kind="backtest", task_name="backtesting.backtest_execute", task_args=[backtest.pk],
        error="OperationalError: gone", request_id="abcdef0123456789", backtest_id=backtest.pk,
    )  # fmt: skip
    backtest.refresh_from_db()
    assert backtest.status == BacktestStatus.FAILED and backtest.error_code == "infrastructure"
    assert backtest.finished_at is not None


def test_dead_letter_requeue_refuses_a_job_that_finished_meanwhile(submit, operator) -> None:
    backtest = submit()
    Backtest.objects.filter(pk=backtest.pk).update(status=BacktestStatus.SUCCEEDED)
    letter = services.dead_letter_record(
        kind="backtest", task_name="backtesting.backtest_execute", task_args=[backtest.pk],
        error="OperationalError", backtest_id=backtest.pk,
    )  # fmt: skip
    with pytest.raises(ConflictError):
        services.dead_letter_requeue(dead_letter=letter, user=operator)
    assert DeadLetter.objects.get().requeued_at is None
    assert Backtest.objects.get(pk=backtest.pk).status == BacktestStatus.SUCCEEDED
