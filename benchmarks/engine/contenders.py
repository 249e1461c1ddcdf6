"""The implementations timed side by side: ours (two styles), vectorbt and a compiled floor.

Every contender runs the same logic: long-only SMA(fast)/SMA(slow) crossover, the decision at
a bar's close filled at the next open, all-in sizing, 0.1% commission on both sides.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from backtesting.engine import BacktestSpec, BarSeries, CostModel, Param, Strategy, run_backtest
from backtesting.engine import indicators as ta
from backtesting.engine.strategy import crossover, crossunder

COMMISSION = 0.001
SPEC = BacktestSpec(costs=CostModel(commission_pct=COMMISSION), fractional_units=True)


class SmaCross(Strategy):
    """What a user writes (the event-driven contender, user ``next()`` included)."""

    fast = Param(10, min=2)
    slow = Param(20, min=3)

    def init(self) -> None:
        self.f = self.I(ta.sma, self.data.close, self.fast)
        self.s = self.I(ta.sma, self.data.close, self.slow)

    def next(self) -> None:
        if crossover(self.f, self.s):
            self.buy()
        elif crossunder(self.f, self.s):
            self.close()


class SmaCrossSignals(Strategy):
    """The vectorized contender: hold while fast > slow."""

    fast = Param(10, min=2)
    slow = Param(20, min=3)

    def signals(self, data: Any) -> np.ndarray:
        f = self.I(ta.sma, data.close, self.fast)
        s = self.I(ta.sma, data.close, self.slow)
        return (f > s).astype(np.float64)


class PortfolioCross(Strategy):
    """Event-driven portfolio: each instrument gets 1/N of the equity while fast > slow."""

    def init(self) -> None:
        self.pairs = [
            (
                sym,
                self.I(ta.sma, self.datas[sym].close, 10),
                self.I(ta.sma, self.datas[sym].close, 20),
            )
            for sym in self.symbols
        ]
        self.share = 1.0 / len(self.symbols)

    def next(self) -> None:
        for sym, f, s in self.pairs:
            if crossover(f, s):
                self.buy(fraction=self.share, symbol=sym)
            elif crossunder(f, s):
                self.close(symbol=sym)


class PortfolioSignals(Strategy):
    def signals(self, data: Any) -> dict[str, np.ndarray]:
        share = 1.0 / len(self.symbols)
        out = {}
        for sym in self.symbols:
            close = self.datas[sym].close
            f, s = self.I(ta.sma, close, 10), self.I(ta.sma, close, 20)
            out[sym] = np.where(f > s, share, 0.0)
        return out


def ours_event(bars: dict[str, BarSeries]) -> float:
    cls = SmaCross if len(bars) == 1 else PortfolioCross
    return run_backtest(SPEC, bars, cls).final_equity


def ours_vectorized(bars: dict[str, BarSeries]) -> float:
    cls = SmaCrossSignals if len(bars) == 1 else PortfolioSignals
    return run_backtest(SPEC, bars, cls).final_equity


# ----------------------------------------------------------------------------- vectorbt


def vectorbt_available() -> bool:
    try:
        import vectorbt  # noqa: F401
    except Exception:
        return False
    return True


def run_vectorbt_with_stats(bars: dict[str, BarSeries]) -> float:
    """vectorbt plus its statistics: like for like with ours, which always computes them."""
    return run_vectorbt(bars, stats=True)


def run_vectorbt(bars: dict[str, BarSeries], stats: bool = False) -> float:
    import pandas as pd
    import vectorbt as vbt

    close = pd.DataFrame({s: b.close for s, b in bars.items()})
    open_ = pd.DataFrame({s: b.open for s, b in bars.items()})
    fast = close.rolling(10).mean()
    slow = close.rolling(20).mean()
    above = fast > slow
    # Decided at bar t's close, executed at bar t+1's open: shift the signals by one bar.
    entries = (above & ~above.shift(1, fill_value=False)).shift(1, fill_value=False)
    exits = (~above & above.shift(1, fill_value=False)).shift(1, fill_value=False)
    many = len(bars) > 1
    pf = vbt.Portfolio.from_signals(
        close,
        entries,
        exits,
        price=open_,
        fees=COMMISSION,
        init_cash=SPEC.initial_cash,
        size=1.0 / len(bars) if many else np.inf,
        size_type="percent" if many else "amount",
        cash_sharing=many,
        group_by=True if many else None,
        freq=pd.Timedelta(int(np.diff(next(iter(bars.values())).timestamps[:2])[0]), "ns"),
    )
    if stats:
        pf.stats(silence_warnings=True)
    value = pf.value()
    return float(np.asarray(value).reshape(-1)[-1])
