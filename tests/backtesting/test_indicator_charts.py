"""The strategy's indicators are stored with the result as compact arrays and drawn over the
candles: one point per candle (the bucket's last value), named as in the strategy."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import numpy as np
from django.core.cache import cache
from django.test import Client

from backtesting.chart_series import indicator_points
from backtesting.engine import indicators as ta
from backtesting.indicator_arrays import indicators_decode, indicators_encode
from backtesting.marketdata.selectors import bars_load_arrays
from backtesting.models import BacktestResult
from tests.backtesting.conftest import END, START, execute_job, seed_bars
from tests.factories import StrategyFactory


def _prices(user, backtest, symbol: str = "AAA") -> dict:
    client = Client()
    client.force_login(user)
    return client.get(f"/backtests/{backtest.pk}/prices.json?symbol={symbol}").json()


def test_a_runs_smas_are_stored_with_their_exact_values_and_drawn_per_candle(owner, submit) -> None:
    done = execute_job(submit().pk)  # the sample SMA cross, fast=5 and slow=20
    result = BacktestResult.objects.get(backtest=done)
    assert result.indicators == {
        "series": [{"name": "sma_fast", "symbol": "AAA"}, {"name": "sma_slow", "symbol": "AAA"}],
        "dropped": 0,
    }
    stored = indicators_decode(result.indicators, result.indicator_values)
    assert stored is not None
    bars = bars_load_arrays("AAA", "1d", START, END)
    np.testing.assert_array_equal(stored.timestamps, bars.timestamps)
    np.testing.assert_array_equal(stored.series[0].values, ta.sma(bars.close, 5))
    np.testing.assert_array_equal(stored.series[1].values, ta.sma(bars.close, 20))

    lines = _prices(owner, done)["indicators"]
    assert [(line["name"], line["overlay"]) for line in lines] == [
        ("sma_fast", True), ("sma_slow", True),
    ]  # fmt: skip
    slow = lines[1]["points"]
    assert len(slow) == 500 - 19  # no point during the warm-up
    assert slow[0] == {
        "time": int(bars.timestamps[19] // 10**9),
        "value": stored.series[1].values[19],
    }


def test_a_long_runs_lines_take_each_candles_last_value(owner, submit) -> None:
    seed_bars("BBB", n=4500, seed=3)
    done = execute_job(submit(symbols=["BBB"], end=datetime(2027, 12, 31, tzinfo=UTC)).pk)
    data = _prices(owner, done, "BBB")
    assert data["bucket"] == 3 and len(data["candles"]) == 1500
    close = bars_load_arrays("BBB", "1d", START, datetime(2027, 12, 31, tzinfo=UTC)).close
    fast = ta.sma(close, 5)
    points = data["indicators"][0]["points"]
    candle_times = [c["time"] for c in data["candles"]]
    # Candle k holds bars 3k..3k+2: its point is bar 3k+2's value, at the candle's time.
    assert len(points) == 1500 - 1  # the first candle ends on bar 2, before SMA(5) has a value
    for point in points[:50] + points[-50:]:
        k = candle_times.index(point["time"])
        assert point["value"] == fast[3 * k + 2]


def test_a_result_stored_without_indicators_draws_none(owner, submit) -> None:
    done = execute_job(submit().pk)
    BacktestResult.objects.filter(backtest=done).update(indicators=None, indicator_values=None)
    cache.clear()  # the worker cached the documents with the lines; rebuild from the row
    data = _prices(owner, done)
    assert data["indicators"] == [] and len(data["candles"]) == 500


def test_the_stored_bytes_decode_to_what_the_sandbox_sent() -> None:
    stamps = np.array([10, 20, 30], dtype="<i8")
    values = np.array([np.nan, 1.5, -2.25], dtype="<f8")
    wire = {
        "timestamps": base64.b64encode(stamps.tobytes()).decode(),
        "series": [
            {
                "name": "a <b>",
                "symbol": "AAA",
                "values": base64.b64encode(values.tobytes()).decode(),
            }
        ],
        "dropped": 2,
    }
    fields = indicators_encode(wire)
    assert len(fields["indicator_values"]) == 48
    stored = indicators_decode(fields["indicators"], memoryview(fields["indicator_values"]))
    assert stored is not None and stored.dropped == 2
    np.testing.assert_array_equal(stored.timestamps, stamps)
    assert stored.series[0].name == "a <b>" and stored.series[0].symbol == "AAA"
    np.testing.assert_array_equal(stored.series[0].values, values)
    assert indicators_encode(None) == {} and indicators_decode(None, None) is None


def test_indicator_points_by_hand() -> None:
    bars = np.array([0, 1, 2, 3, 4], dtype=np.int64) * 10**9
    candles = np.array([0, 2, 4], dtype=np.int64) * 10**9  # buckets of two bars
    values = np.array([np.nan, np.nan, 7.0, 8.0, 9.0])
    assert indicator_points(bars, candles, bars, values) == [
        {"time": 2, "value": 8.0},  # the first candle ends on bar 1: no value yet
        {"time": 4, "value": 9.0},
    ]


OSCILLATOR = """\
from strategy import Param, Strategy
import indicators as ta


class Oscillator(Strategy):
    fast = Param(10)
    slow = Param(20)

    def init(self):
        self.level = self.I(ta.rsi, self.data.close, 14, name="RSI <14>")
        self.trend = self.I(ta.sma, self.data.close, 10)

    def next(self):
        if self.level[-1] < 30 and not self.position():
            self.buy()
        elif self.level[-1] > 70 and self.position():
            self.close()
"""


def test_an_oscillator_gets_its_own_scale_and_its_given_name(owner, submit) -> None:
    version = StrategyFactory.create(owner=owner, code=OSCILLATOR).versions.get()
    done = execute_job(submit(strategy_version=version).pk)
    assert done.status == "succeeded", done.error_message
    lines = _prices(owner, done)["indicators"]
    assert [(line["name"], line["overlay"]) for line in lines] == [
        ("RSI <14>", False), ("trend", True),
    ]  # fmt: skip
    assert all(0 <= p["value"] <= 100 for p in lines[0]["points"])
