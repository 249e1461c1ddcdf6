"""The strategy's ``self.I`` outputs come back with the result, named and per symbol, for the
price chart, and collecting them changes no trade, equity value or metric."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from backtesting.engine import BacktestSpec, Strategy, StrategyError, run_backtest
from backtesting.engine import indicators as ta
from backtesting.engine.plotted import MAX_PLOTTED_PER_SYMBOL, PlottedIndicators
from tests.engine.helpers import SmaCross, SmaCrossSignals, random_bars


def _plotted(result: Any) -> dict[tuple[str, str], np.ndarray]:
    return {(p.symbol, p.name): p.values for p in _indicators(result).series}


def _indicators(result: Any) -> PlottedIndicators:
    assert result.indicators is not None
    return result.indicators  # type: ignore[no-any-return]


def test_the_attributes_an_init_stores_its_indicators_in_name_them_with_exact_values() -> None:
    bars = random_bars(120)
    result = run_backtest(BacktestSpec(), {"AAA": bars}, SmaCross)
    plotted = _plotted(result)
    assert list(plotted) == [("AAA", "f"), ("AAA", "s")]
    np.testing.assert_array_equal(plotted["AAA", "f"], ta.sma(bars.close, 10))
    np.testing.assert_array_equal(plotted["AAA", "s"], ta.sma(bars.close, 20))
    assert np.isnan(plotted["AAA", "s"][:19]).all() and not np.isnan(plotted["AAA", "s"][19:]).any()
    np.testing.assert_array_equal(_indicators(result).timestamps, bars.timestamps)


class NamedAndMany(SmaCross):
    """SmaCross with the same two lines named, a band and more lines than the chart keeps."""

    def init(self) -> None:
        self.f = self.I(ta.sma, self.data.close, self.fast, name="SMA fast")
        self.s = self.I(ta.sma, self.data.close, self.slow, name="SMA slow")
        self.band = self.I(ta.bollinger, self.data.close, 5)
        for period in range(2, 12):
            self.I(ta.ema, self.data.close, period)


def test_name_keyword_tuples_and_the_cap_and_the_run_is_the_same_as_without_them() -> None:
    bars = random_bars(200)
    plain = run_backtest(BacktestSpec(), {"AAA": bars}, SmaCross)
    named = run_backtest(BacktestSpec(), {"AAA": bars}, NamedAndMany)
    assert named.to_dict() == plain.to_dict()  # trades, orders, curves, every metric
    names = [p.name for p in _indicators(named).series]
    assert len(names) == MAX_PLOTTED_PER_SYMBOL
    assert names[:5] == ["SMA fast", "SMA slow", "band 1", "band 2", "band 3"]
    assert names[5:] == ["ema(2)", "ema(3)", "ema(4)"]  # not stored on self: function and args


def test_vectorized_strategies_plot_their_indicators_too() -> None:
    bars = random_bars(120)
    result = run_backtest(BacktestSpec(), {"AAA": bars}, SmaCrossSignals)
    plotted = _plotted(result)
    assert list(plotted) == [("AAA", "sma(10)"), ("AAA", "sma(20)")]
    np.testing.assert_array_equal(plotted["AAA", "sma(10)"], ta.sma(bars.close, 10))


class TwoSymbols(Strategy):
    def init(self) -> None:
        self.a = self.I(ta.sma, self.datas["AAA"].close, 3)
        self.b = self.I(ta.sma, self.datas["BBB"].close, 4)
        self.spread = self.I(lambda: np.asarray(self.datas["AAA"].close) * 0 + 1.0)


def test_an_indicator_belongs_to_the_symbol_whose_bars_fed_it_and_is_left_out_if_none() -> None:
    bars = {"AAA": random_bars(60), "BBB": random_bars(60, seed=2, symbol="BBB")}
    result = run_backtest(BacktestSpec(), bars, TwoSymbols)
    assert list(_plotted(result)) == [("AAA", "a"), ("BBB", "b")]


class BadName(SmaCross):
    def init(self) -> None:
        self.f = self.I(ta.sma, self.data.close, 3, name=5)  # type: ignore[arg-type]


def test_a_name_that_is_not_text_is_the_users_error() -> None:
    with pytest.raises(StrategyError, match="indicator name must be text"):
        run_backtest(BacktestSpec(), {"AAA": random_bars(30)}, BadName)
