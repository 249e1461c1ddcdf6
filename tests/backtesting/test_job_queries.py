"""How many statements a backtest costs the database, on submit and in the worker.

A behaviour guard, not a timing: every statement is a round trip on the job's path, so a count
that grows back (a re-read of the row, a per-job COUNT, a second write of the result) fails
here with the statements listed. Transaction control (BEGIN, COMMIT, savepoints) is left out:
the test runs inside a transaction, where `atomic` blocks become savepoints.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backtesting.execution import backtest_run
from backtesting.jobs import lifecycle
from backtesting.models import Backtest, BacktestResult, Trade

pytestmark = pytest.mark.django_db

_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT", "SET TRANSACTION")


def _statements(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(_CONTROL)]


def _listing(statements: list[str]) -> str:
    return "\n".join(f"  {sql[:160]}" for sql in statements)


def test_a_worker_reads_the_job_once_and_writes_its_results_once(submit, settings) -> None:
    settings.BACKTEST_USER_MAX_RUNNING = 0  # the fairness count has its own test below
    # Progress writes and cancel polls are timed (a few a second of a long run): none here.
    settings.BACKTEST_PROGRESS_INTERVAL_SECONDS = settings.BACKTEST_CANCEL_POLL_SECONDS = 3600
    backtest_run(backtest_id=submit().pk)  # the steady state: the run's bars are cached
    backtest = submit()
    with CaptureQueriesContext(connection) as captured:
        backtest_run(backtest_id=backtest.pk)
    statements = _statements(captured)
    backtest.refresh_from_db()
    assert backtest.status == "succeeded", backtest.error_message
    trades = Trade.objects.filter(backtest=backtest).count()
    assert trades > 0 and BacktestResult.objects.filter(backtest=backtest).exists()

    def touching(table: str, verb: str) -> list[str]:
        return [s for s in statements if s.startswith(verb) and f'"{table}"' in s.split("WHERE")[0]]

    # The claim's read brings the job with its strategy version: no second read of the row
    # before the run.
    reads_before_run = [s for s in statements[: statements.index(touching(
        "backtesting_backtest", "UPDATE")[0])] if s.startswith("SELECT")]  # fmt: skip
    assert len(reads_before_run) == 1 and '"strategies_strategyversion"' in reads_before_run[0]
    # One bulk INSERT for every trade, one statement for the result row (timings included).
    assert len(touching("backtesting_trade", "INSERT")) == 1
    assert len(touching("backtesting_backtestresult", "INSERT")) == 1
    assert not touching("backtesting_backtestresult", "UPDATE")
    # No per-job queue-depth COUNT (a worker service sets that gauge).
    assert not [s for s in statements if s.startswith("SELECT COUNT(")], _listing(statements)
    # The whole path: claim (read + update), data (the versions; the bars are cached), the
    # write (status, old trades, trades, result) and notifications (the row, its metrics and
    # whether the owner has webhooks or email on, in one read). The chart documents are built
    # from what the write just stored, in memory: they read nothing.
    # At most: a change that removes one is welcome (lower the bound), one that adds fails.
    assert len(statements) <= 8, _listing(statements)
    assert not touching("backtesting_trade", "SELECT"), _listing(statements)


def test_a_claim_under_the_fairness_rule_adds_only_the_owner_lock_and_its_count(
    submit, settings
) -> None:
    settings.BACKTEST_USER_MAX_RUNNING = 1
    backtest = submit()
    with CaptureQueriesContext(connection) as captured:
        outcome, row = lifecycle.job_claim_row(
            Backtest, job_id=backtest.pk, token="t" * 32, related=("strategy_version",)
        )
    assert outcome is lifecycle.ClaimOutcome.CLAIMED
    assert row.status == "running" and row.claim_token == "t" * 32 and row.attempts == 1
    assert row.strategy_version.code  # fetched with the row
    stored = Backtest.objects.get(pk=backtest.pk)
    assert (stored.status, stored.claim_token, stored.attempts, stored.started_at) == (
        row.status, row.claim_token, row.attempts, row.started_at)  # fmt: skip
    statements = _statements(captured)
    assert len(statements) == 4, _listing(statements)  # row, owner lock, running count, update


def test_a_submit_counts_the_queue_at_most_once_per_interval(
    submit, settings, django_capture_on_commit_callbacks: Any
) -> None:
    settings.JOB_QUEUE_DEPTH_INTERVAL_SECONDS = 3600
    lifecycle._depth_refreshed_at.clear()
    with django_capture_on_commit_callbacks(execute=True):
        submit()  # publishes, and sets the gauge: the first in this interval
    with (
        CaptureQueriesContext(connection) as captured,
        django_capture_on_commit_callbacks(execute=True),
    ):
        submit()
    statements = _statements(captured)
    queue_counts = [s for s in statements if s.startswith("SELECT COUNT(") and '"queue" = ' in s]
    assert not queue_counts, _listing(statements)
