"""Migration 0005 moves results off the job row into BacktestResult and back, values intact."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from backtesting.models import Backtest, BacktestResult
from tests.backtesting.conftest import execute_job

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("backtesting", "0004_marketdata_own_app")
API = "/api/v1/backtests/"
OLD_CURVE: dict[str, list[Any]] = {
    "timestamps": ["2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z", "2024-01-04T14:30:00Z"],
    "equity": [10_000.0, 10_250.123456789, None],
    "drawdown": [0.0, 0.0, -0.0123456789012345],
}
OLD_RESULT: dict[str, Any] = {
    "metrics": {"total_return": 0.125, "sharpe_ratio": None, "n_trades": 3},
    "equity_curve": OLD_CURVE,
    "timings": {"data_load_ms": 1.5, "sandbox_ms": 80.25, "write_ms": 3.0},
    "sandbox_log": "bought 10\nsold 10\n",
}


def migrate(target: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    executor.loader.build_graph()  # re-read what is applied now
    return executor


def migrate_to_latest() -> None:
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.fixture
def before_results() -> Iterator[Any]:
    """The test database as it was before migration 0005 (its historical Backtest model)."""
    executor = migrate([BEFORE])
    try:
        yield executor.loader.project_state([BEFORE]).apps.get_model("backtesting", "Backtest")
    finally:
        migrate_to_latest()


def old_backtest(model: Any, version: Any, **fields: Any) -> Any:
    return model.objects.create(
        owner_id=version.strategy.owner_id,
        strategy_version_id=version.pk,
        symbols=["AAA"],
        timeframe="1d",
        start=datetime(2024, 1, 1, tzinfo=UTC),
        end=datetime(2024, 2, 1, tzinfo=UTC),
        queued_at=datetime(2024, 2, 2, tzinfo=UTC),
        **fields,
    )


def old_columns(model: Any, pk: int) -> dict[str, Any]:
    return model.objects.filter(pk=pk).values(*OLD_RESULT).get()


def test_results_move_to_their_table_and_back_with_the_same_values(
    before_results, strategy_version, owner_client
) -> None:
    done = old_backtest(
        before_results, strategy_version, status="succeeded", data_fingerprint="ab" * 32,
        **OLD_RESULT,
    )  # fmt: skip
    queued = old_backtest(before_results, strategy_version)

    migrate_to_latest()

    result = BacktestResult.objects.get(backtest_id=done.pk)
    assert result.metrics == OLD_RESULT["metrics"] and result.timings == OLD_RESULT["timings"]
    assert result.sandbox_log == OLD_RESULT["sandbox_log"]
    assert result.equity_curve() == OLD_RESULT["equity_curve"]
    assert not BacktestResult.objects.filter(backtest_id=queued.pk).exists()
    versions = dict(Backtest.objects.values_list("pk", "data_fingerprint_version"))
    assert versions == {done.pk: 1, queued.pk: None}  # fingerprints so far hashed codec 1
    detail = owner_client.get(f"{API}{done.pk}/").json()
    assert (detail["metrics"], detail["timings"]) == (OLD_RESULT["metrics"], OLD_RESULT["timings"])
    equity = owner_client.get(f"{API}{done.pk}/equity/").json()
    assert equity == {"id": done.pk, "status": "succeeded", **OLD_CURVE}

    migrate([BEFORE])

    assert old_columns(before_results, done.pk) == OLD_RESULT
    empty: dict[str, Any] = {
        "metrics": None,
        "equity_curve": None,
        "timings": {},
        "sandbox_log": "",
    }
    assert old_columns(before_results, queued.pk) == empty


def test_a_real_run_answers_the_same_json_after_going_back_and_forth(submit, owner_client) -> None:
    done = execute_job(submit().pk)
    detail = owner_client.get(f"{API}{done.pk}/").json()
    equity = owner_client.get(f"{API}{done.pk}/equity/").json()
    assert detail["metrics"]["n_trades"] >= 1 and len(equity["equity"]) > 100

    executor = migrate([BEFORE])
    old_model = executor.loader.project_state([BEFORE]).apps.get_model("backtesting", "Backtest")
    old = old_columns(old_model, done.pk)
    assert old["metrics"] == detail["metrics"] and old["timings"] == detail["timings"]
    assert old["equity_curve"] == {k: equity[k] for k in ("timestamps", "equity", "drawdown")}
    migrate_to_latest()

    assert owner_client.get(f"{API}{done.pk}/").json() == detail
    assert owner_client.get(f"{API}{done.pk}/equity/").json() == equity
