"""The detail page's chart series: down-sampled lines, bucketed candles, exact trade markers,
the benchmark, monthly returns and the trade-return histogram, against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from backtesting.chart_series import (
    DISPLAY_CANDLES,
    DISPLAY_POINTS,
    TradeEvent,
    benchmark_equity,
    candle_points,
    candles_bucketed,
    chart_series,
    monthly_returns,
    series_downsample,
    trade_markers,
    trade_return_histogram,
)
from backtesting.engine import BarSeries


def test_a_million_points_come_back_within_the_limit_with_extremes_and_ends_exact() -> None:
    rng = np.random.default_rng(7)
    values = np.cumsum(rng.normal(size=1_000_000)) + 1_000.0
    picked = series_downsample(values)
    assert len(picked) <= DISPLAY_POINTS
    assert picked[0] == 0 and picked[-1] == len(values) - 1
    assert np.all(np.diff(picked) > 0)  # in time order, no duplicates
    assert values[picked].min() == values.min() and values[picked].max() == values.max()
    assert values.argmin() in picked and values.argmax() in picked


def test_every_bucket_keeps_its_own_low_and_high() -> None:
    # A spike in the middle of a flat series must survive: it is what a person looks for.
    values = np.zeros(100_000)
    values[31_337] = -5.0
    values[77_777] = 9.0
    picked = series_downsample(values, limit=100)
    assert len(picked) <= 100
    assert 31_337 in picked and 77_777 in picked


def test_a_short_series_comes_back_exactly() -> None:
    values = np.array([3.0, 1.0, 2.0, 5.0])
    assert series_downsample(values, limit=4).tolist() == [0, 1, 2, 3]
    assert series_downsample(np.array([]), limit=10).tolist() == []


def test_a_limit_too_small_for_ends_and_a_bucket_is_refused() -> None:
    with pytest.raises(ValueError):
        series_downsample(np.arange(10.0), limit=3)


def test_chart_points_are_seconds_and_skip_non_finite_values() -> None:
    stamps = np.array([0, 86_400, 172_800], dtype=np.int64) * 1_000_000_000
    values = np.array([100.0, np.nan, 101.5])
    assert chart_series(stamps, values) == [
        {"time": 0, "value": 100.0},
        {"time": 172_800, "value": 101.5},
    ]


# --------------------------------------------------------------------------- candles and markers

DAY_NS = 86_400 * 1_000_000_000
MINUTE_NS = 60 * 1_000_000_000


def _bars(n: int) -> BarSeries:
    # One-minute bars: a million days would pass int64 nanoseconds (year 2262) and wrap.
    ts = np.arange(n, dtype=np.int64) * MINUTE_NS
    close = 100.0 + np.arange(n, dtype=np.float64)
    return BarSeries("AAA", ts, close - 0.5, close + 1.0, close - 1.0, close, np.full(n, 10.0))


def test_candles_merge_consecutive_bars_by_hand() -> None:
    # 5 bars into at most 2 candles: buckets of ceil(5 / 2) = 3 bars, then the 2 left over.
    bars = BarSeries(
        "AAA",
        np.arange(5, dtype=np.int64) * DAY_NS,
        np.array([10.0, 11.0, 12.0, 13.0, 14.0]),  # open
        np.array([12.0, 15.0, 13.0, 14.0, 16.0]),  # high
        np.array([9.0, 10.0, 8.0, 12.0, 13.5]),  # low
        np.array([11.0, 12.0, 12.5, 14.0, 15.0]),  # close
        np.array([100.0, 200.0, 300.0, 400.0, 500.0]),  # volume
    )
    candles, volume = candle_points(candles_bucketed(bars, limit=2))
    assert candles == [
        {"time": 0, "open": 10.0, "high": 15.0, "low": 8.0, "close": 12.5},
        {"time": 3 * 86_400, "open": 13.0, "high": 16.0, "low": 12.0, "close": 15.0},
    ]
    assert volume == [{"time": 0, "value": 600.0}, {"time": 3 * 86_400, "value": 900.0}]


def test_a_million_bars_become_at_most_the_display_candles_with_the_extremes() -> None:
    bars = _bars(1_000_000)
    candles = candles_bucketed(bars)
    assert len(candles) <= DISPLAY_CANDLES
    assert candles.high.max() == bars.high.max() and candles.low.min() == bars.low.min()
    assert candles.volume.sum() == bars.volume.sum()
    assert candles_bucketed(_bars(DISPLAY_CANDLES)) is not None
    assert len(candles_bucketed(_bars(DISPLAY_CANDLES))) == DISPLAY_CANDLES  # short: unchanged


def test_every_trade_event_is_a_marker_on_the_candle_holding_its_time() -> None:
    candle_times = np.array([0, 3, 6], dtype=np.int64) * DAY_NS  # buckets [0,3) [3,6) [6,..)
    events = [
        TradeEvent(2, "entry", "short", 5 * DAY_NS, 105.25),
        TradeEvent(1, "entry", "long", 1 * DAY_NS, 101.5),
        TradeEvent(1, "exit", "long", 3 * DAY_NS, 103.75, 2.2),
        TradeEvent(2, "exit", "short", 8 * DAY_NS, 99.0, 5.9),
    ]
    markers = trade_markers(events, candle_times)
    assert [(m["seq"], m["kind"], m["time"] // 86_400, m["at"] // 86_400, m["price"])
            for m in markers] == [
        (1, "entry", 0, 1, 101.5),
        (1, "exit", 3, 3, 103.75),
        (2, "entry", 3, 5, 105.25),
        (2, "exit", 6, 8, 99.0),
    ]  # fmt: skip
    assert markers[1]["pnl_pct"] == 2.2 and markers[0]["direction"] == "long"


# --------------------------------------------------------------------------- benchmark


def test_the_benchmark_starts_with_the_strategy_and_follows_the_last_close() -> None:
    bars = BarSeries("AAA", np.array([0, 2], dtype=np.int64) * DAY_NS, np.array([50.0, 60.0]),
                     np.array([50.0, 60.0]), np.array([50.0, 60.0]), np.array([50.0, 60.0]),
                     np.zeros(2))  # fmt: skip
    stamps = np.array([0, 1, 2, 3], dtype=np.int64) * DAY_NS
    equity = np.array([1000.0, 1010.0, np.nan, 1030.0])
    times, values = benchmark_equity(stamps, equity, bars)
    # Day 1 has no bar: the close of day 0 holds; day 2 (no equity) is left out.
    assert (times // DAY_NS).tolist() == [0, 1, 3]
    assert values.tolist() == [1000.0, 1000.0, 1200.0]


# --------------------------------------------------------------------------- monthly returns


def _ns(day: str) -> int:
    return int(np.datetime64(day, "ns").astype(np.int64))


def test_monthly_returns_compare_month_ends_and_start_from_the_initial_cash() -> None:
    stamps = np.array([_ns(d) for d in (
        "2015-11-02", "2015-11-30", "2015-12-15", "2015-12-31", "2016-01-04", "2016-03-01",
    )], dtype=np.int64)  # fmt: skip
    equity = np.array([1000.0, 1100.0, 1200.0, 990.0, 1000.0, 1089.0])
    rows = monthly_returns(stamps, equity, initial_cash=1000.0)
    assert [r["year"] for r in rows] == [2015, 2016]
    nov, dec = rows[0]["months"][10], rows[0]["months"][11]
    assert nov == pytest.approx(10.0)  # 1100 / 1000 (the cash) - 1
    assert dec == pytest.approx(-10.0)  # 990 / 1100 - 1
    assert rows[0]["months"][:10] == [None] * 10
    assert rows[0]["total"] == pytest.approx(-1.0)  # 990 / 1000 - 1
    jan, feb, mar = rows[1]["months"][:3]
    assert jan == pytest.approx(1000 / 990 * 100 - 100) and feb is None
    assert mar == pytest.approx(8.9)  # 1089 / 1000 - 1: February had no data
    assert rows[1]["total"] == pytest.approx(1089 / 990 * 100 - 100)  # from 2015's last equity


# --------------------------------------------------------------------------- trade returns


def test_trade_returns_fall_in_round_bins_split_at_zero() -> None:
    returns = np.array([-3.2, -0.4, 0.0, 0.3, 1.1, 1.9, 4.6, np.nan])
    hist = trade_return_histogram(returns, max_bins=10)
    assert (hist["winners"], hist["losers"], hist["count"]) == (4, 2, 7)
    assert hist["mean"] == pytest.approx((-3.2 - 0.4 + 0.0 + 0.3 + 1.1 + 1.9 + 4.6) / 7)
    # 7 trades: 5 bins wanted; (4.6 - -3.2) / 5 = 1.56, rounded up to a width of 2.
    assert [(b["low"], b["high"], b["count"]) for b in hist["bins"]] == [
        (-4.0, -2.0, 1), (-2.0, 0.0, 1), (0.0, 2.0, 4), (2.0, 4.0, 0), (4.0, 6.0, 1),
    ]  # fmt: skip


def test_no_closed_trade_gives_an_empty_histogram() -> None:
    assert trade_return_histogram(np.array([])) == {
        "bins": [], "winners": 0, "losers": 0, "mean": None, "count": 0,
    }  # fmt: skip
