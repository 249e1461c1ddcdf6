"""The detail page's chart endpoints: the owner's data (benchmark, monthly and trade returns,
candles with exact trade markers, the full equity CSV); another user's is a 404."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.test import Client

from backtesting import chart_data
from backtesting.chart_series import DISPLAY_CANDLES
from tests.backtesting.conftest import execute_job, seed_bars
from tradeplatform.soft_cache import soft_delete, soft_get


@pytest.fixture
def done(owner, submit):
    backtest = execute_job(submit().pk)
    assert backtest.status == "succeeded" and backtest.trades.count() > 0
    return backtest


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_charts_carry_the_benchmark_from_the_same_start_and_the_returns(owner, done) -> None:
    data = _client(owner).get(f"/backtests/{done.pk}/charts.json").json()
    assert data["symbols"] == ["AAA"]
    bench = data["benchmark"]
    assert bench["symbol"] == "AAA"  # the engine's default: the first symbol
    assert bench["points"][0] == data["equity"][0]  # same time, same money
    assert len(bench["points"]) == len(data["equity"])
    closed = done.trades.filter(is_open=False)
    assert data["trade_returns"]["count"] == closed.count()
    assert data["trade_returns"]["winners"] == closed.filter(net_pnl_pct__gt=0).count()
    assert sum(b["count"] for b in data["trade_returns"]["bins"]) == closed.count()
    months = [m for row in data["monthly_returns"] for m in row["months"] if m is not None]
    assert [row["year"] for row in data["monthly_returns"]] == [2015, 2016]
    assert len(months) >= 12


def test_prices_are_the_runs_candles_with_every_entry_and_exit(owner, done) -> None:
    data = _client(owner).get(f"/backtests/{done.pk}/prices.json").json()
    # The page's one request carries the first symbol's prices too.
    assert _client(owner).get(f"/backtests/{done.pk}/charts.json").json()["prices"] == data
    assert data["symbol"] == "AAA" and data["bars"] == 500 and data["bucket"] == 1
    assert len(data["candles"]) == 500 == len(data["volume"])
    trades = list(done.trades.order_by("seq"))
    exits = [t for t in trades if not t.is_open]
    assert len(data["markers"]) == len(trades) + len(exits)
    first = next(m for m in data["markers"] if m["seq"] == trades[0].seq and m["kind"] == "entry")
    assert first["price"] == trades[0].entry_price
    assert first["at"] == first["time"] == int(trades[0].entry_time.timestamp())


def test_prices_of_a_long_series_are_bucketed_with_markers_kept(owner, submit) -> None:
    seed_bars("BBB", n=4500, seed=3)
    backtest = execute_job(submit(symbols=["BBB"], end=datetime(2027, 12, 31, tzinfo=UTC)).pk)
    data = _client(owner).get(f"/backtests/{backtest.pk}/prices.json?symbol=BBB").json()
    assert data["bars"] == 4500 and data["bucket"] == 3
    assert len(data["candles"]) == 1500 <= DISPLAY_CANDLES
    trades = backtest.trades.all()
    assert len(data["markers"]) == trades.count() + trades.filter(is_open=False).count() > 0
    starts = [c["time"] for c in data["candles"]]
    for marker in data["markers"]:
        at = starts.index(marker["time"])  # drawn on a candle...
        later = starts[at + 1] if at + 1 < len(starts) else float("inf")
        assert marker["time"] <= marker["at"] < later  # ...the one whose bucket holds it


def test_a_symbol_the_run_did_not_trade_is_not_found(owner, done) -> None:
    response = _client(owner).get(f"/backtests/{done.pk}/prices.json?symbol=ZZZ")
    assert response.status_code == 404


def test_the_full_equity_curve_downloads_as_csv(owner, done) -> None:
    response = _client(owner).get(f"/backtests/{done.pk}/equity.csv")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    rows = list(csv.reader(StringIO(response.getvalue().decode())))
    curve = done.equity_curve
    assert curve is not None
    assert rows[0] == ["timestamp", "equity", "drawdown"]
    assert len(rows) - 1 == len(curve["timestamps"])
    assert rows[1][0] == curve["timestamps"][0] and float(rows[-1][1]) == curve["equity"][-1]


@pytest.mark.parametrize("endpoint", ["charts.json", "prices.json", "equity.csv"])
def test_another_users_chart_data_is_not_found(other_user, done, endpoint) -> None:
    assert _client(other_user).get(f"/backtests/{done.pk}/{endpoint}").status_code == 404


@pytest.mark.parametrize("endpoint", ["charts.json", "prices.json", "equity.csv"])
def test_chart_data_needs_a_signed_in_user(done, endpoint) -> None:
    response = Client().get(f"/backtests/{done.pk}/{endpoint}")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_finished_run_leaves_its_chart_data_ready_for_the_first_visit(
    owner, done, monkeypatch
) -> None:
    # The worker built the documents from the bars it ran on: no visit loads bars again.
    def no_bar_reads(*args, **kwargs):
        raise AssertionError("chart data loaded bars although the worker prepared it")

    monkeypatch.setattr(chart_data, "bars_load_arrays", no_bar_reads)
    data = _client(owner).get(f"/backtests/{done.pk}/charts.json").json()
    assert data["prices"]["markers"] and data["benchmark"]["points"]


def test_the_benchmark_is_the_one_the_run_named(owner, submit) -> None:
    seed_bars("BBB", n=500, seed=5)
    settings = {"initial_cash": 10_000.0, "benchmark": "BBB"}
    backtest = execute_job(submit(symbols=["AAA", "BBB"], settings=settings).pk)
    data = _client(owner).get(f"/backtests/{backtest.pk}/charts.json").json()
    assert data["benchmark"]["symbol"] == "BBB" and data["symbols"] == ["AAA", "BBB"]
    assert data["benchmark"]["points"][0]["value"] == data["equity"][0]["value"]
    assert data["prices"]["symbol"] == "AAA"  # the page opens on the first symbol


def test_a_backtest_without_result_has_nothing_to_draw(owner, submit) -> None:
    queued = submit()
    data = _client(owner).get(f"/backtests/{queued.pk}/charts.json").json()
    assert data["equity"] == [] and data["drawdown"] == [] and data["monthly_returns"] == []
    assert data["benchmark"] is None and data["prices"] is None
    assert data["trade_returns"] is None


def test_the_documents_the_worker_built_in_memory_are_the_ones_the_database_gives(
    owner, submit
) -> None:
    # Two symbols, so every part is checked: each symbol's markers and indicator lines, the
    # benchmark of the second, the monthly and trade returns.
    seed_bars("BBB", n=500, seed=5)
    settings = {"initial_cash": 10_000.0, "benchmark": "BBB"}
    backtest = execute_job(submit(symbols=["AAA", "BBB"], settings=settings).pk)
    names = ["summary", "prices:AAA", "prices:BBB"]
    keys = [chart_data._cache_key(backtest, name) or "" for name in names]
    assert all(keys), "a finished run's documents have cache keys"
    prepared = [soft_get(key) for key in keys]
    assert all(prepared), "the worker cached every document"
    assert prepared[1]["markers"] and prepared[1]["indicators"]
    for key in keys:
        soft_delete(key)
    rebuilt_summary = chart_data.backtest_chart_data(backtest)
    rebuilt = [
        {k: v for k, v in rebuilt_summary.items() if k != "prices"},
        chart_data.backtest_price_data(backtest, "AAA"),
        chart_data.backtest_price_data(backtest, "BBB"),
    ]
    assert rebuilt == prepared
