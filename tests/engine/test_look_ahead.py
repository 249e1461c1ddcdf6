"""No look-ahead: what a strategy decides up to bar t cannot depend on bars after t."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from backtesting.engine import BacktestSpec, BarSeries, CostModel, Param, Strategy, run_backtest
from backtesting.engine import indicators as ta
from tests.engine.helpers import SmaCross, SmaCrossSignals, random_bars

DECISION_FIELDS = ("id", "symbol", "side", "kind", "units", "fraction", "value", "limit", "stop")


class Breakout(Strategy):
    """Stop entries above the recent high with a bracket and a trailing stop."""

    n = Param(10, min=2)

    def init(self) -> None:
        self.hi = self.I(ta.rolling_max, self.data.high, self.n)
        self.lo = self.I(ta.rolling_min, self.data.low, self.n)

    def next(self) -> None:
        if not self.position() and not self.orders:
            self.buy(stop=self.hi[-1] * 1.001, sl=self.lo[-1], trail=0.04, tif="day")
        elif self.position() and self.data.close[-1] < self.lo[-2]:
            self.close()


class MeanRevert(Strategy):
    """Limit orders below a z-score band, using progressive views and the equity."""

    def init(self) -> None:
        self.z = self.I(ta.zscore, self.data.close, 15)

    def next(self) -> None:
        if self.z[-1] < -1.5 and not self.position():
            self.buy(limit=self.data.close[-1] * 0.995, value=self.equity * 0.5)
        elif self.z[-1] > 0.5 and self.position():
            self.close(fraction=0.5)


def _truncate(bars: BarSeries, end: int) -> BarSeries:
    fields = ("timestamps", "open", "high", "low", "close", "volume")
    return BarSeries(bars.symbol, *(getattr(bars, f)[:end].copy() for f in fields))


def _decisions(result: Any, upto: int) -> list[tuple[Any, ...]]:
    return [
        tuple(str(o[f]) for f in DECISION_FIELDS)
        for o in result.orders
        if o["placed_bar"] <= upto and o["parent_id"] is None
    ]


@pytest.mark.parametrize("strategy", [SmaCross, SmaCrossSignals, Breakout, MeanRevert])
def test_decisions_up_to_bar_t_do_not_change_when_later_bars_are_removed(strategy: type) -> None:
    bars = random_bars(400, seed=21, vol=0.02)
    spec = BacktestSpec(costs=CostModel(commission_pct=0.001), warmup_bars=30)
    full = run_backtest(spec, {"AAA": bars}, strategy)
    assert len(_decisions(full, 399)) > 3
    for t in (60, 151, 287, 398):
        cut = run_backtest(spec, {"AAA": _truncate(bars, t + 1)}, strategy)
        assert _decisions(cut, t) == _decisions(full, t)
        k = t + 1 - full.eval_start_bar
        assert np.array_equal(cut.equity, full.equity[:k])
