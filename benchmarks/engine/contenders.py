"""The implementations timed side by side, all running one strategy with one result.

The strategy: a cross of SMA(10) above SMA(20) at bar i's close (fast[i-1] <= slow[i-1] and
fast[i] > slow[i]) buys at bar i+1's open; a cross below sells the whole position at the next
open. Long only, whole shares, 0.2 % commission on both sides, 100,000 cash. One instrument
invests all of its equity (as backtesting.py sizes ``buy()``: 1 - machine epsilon of it); a
portfolio gives each of its N instruments 1/N of the equity at the time of the fill. Every
contender must end on the same final equity: run.py asserts it, so a table never compares
different work.

backtesting.py runs in bt_worker.py (its import name clashes with our package); the compiled
floor is in floor.py.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from backtesting.engine import BacktestSpec, BarSeries, CostModel, Param, Strategy, run_backtest
from backtesting.engine import indicators as ta
from backtesting.engine.strategy import crossover, crossunder
from benchmarks.engine.floor import floor_function

COMMISSION = 0.002
CASH = 100_000.0
FAST, SLOW = 10, 20
FULL_EQUITY = 1 - sys.float_info.epsilon  # backtesting.py's default buy() size
SPEC = BacktestSpec(initial_cash=CASH, costs=CostModel(commission_pct=COMMISSION))


def share_of(n_symbols: int) -> float:
    """The fraction of equity one instrument's entry invests."""
    return FULL_EQUITY if n_symbols == 1 else 1.0 / n_symbols


class SmaCross(Strategy):
    """What a user writes: the event-driven contender, its ``next()`` called on every bar."""

    fast = Param(FAST, min=2)
    slow = Param(SLOW, min=3)

    def init(self) -> None:
        self.f = self.I(ta.sma, self.data.close, self.fast)
        self.s = self.I(ta.sma, self.data.close, self.slow)

    def next(self) -> None:
        if crossover(self.f, self.s):
            self.buy(fraction=FULL_EQUITY)
        elif crossunder(self.f, self.s):
            self.close()


def held_between_crosses(fast: np.ndarray, slow: np.ndarray, share: float) -> np.ndarray:
    """``share`` from each cross up until the next cross down, else 0: the same trades as
    SmaCross's ``next()`` (a target acts on the bar where it changes)."""
    events = np.where(ta.crossover(fast, slow), share, np.nan)
    events[ta.crossunder(fast, slow)] = 0.0
    seen = np.where(np.isnan(events), 0, np.arange(len(events)))
    held = events[np.maximum.accumulate(seen)]
    return np.nan_to_num(held)  # NaN before the first cross: nothing held


class SmaCrossSignals(Strategy):
    """The vectorized contender: the same strategy written with ``signals()``."""

    fast = Param(FAST, min=2)
    slow = Param(SLOW, min=3)

    def signals(self, data: Any) -> np.ndarray:
        f = self.I(ta.sma, data.close, self.fast)
        s = self.I(ta.sma, data.close, self.slow)
        return held_between_crosses(f, s, FULL_EQUITY)


class PortfolioCross(Strategy):
    """Event-driven portfolio: each instrument's entry invests 1/N of the equity."""

    def init(self) -> None:
        self.pairs = [
            (
                sym,
                self.I(ta.sma, self.datas[sym].close, FAST),
                self.I(ta.sma, self.datas[sym].close, SLOW),
            )
            for sym in self.symbols
        ]
        self.share = share_of(len(self.symbols))

    def next(self) -> None:
        for sym, f, s in self.pairs:
            if crossover(f, s):
                self.buy(fraction=self.share, symbol=sym)
            elif crossunder(f, s):
                self.close(symbol=sym)


class PortfolioSignals(Strategy):
    """The vectorized portfolio: the same trades as PortfolioCross."""

    def signals(self, data: Any) -> dict[str, np.ndarray]:
        share = share_of(len(self.symbols))
        out = {}
        for sym in self.symbols:
            close = self.datas[sym].close
            f, s = self.I(ta.sma, close, FAST), self.I(ta.sma, close, SLOW)
            out[sym] = held_between_crosses(f, s, share)
        return out


def ours_event(bars: dict[str, BarSeries]) -> float:
    cls = SmaCross if len(bars) == 1 else PortfolioCross
    return run_backtest(SPEC, bars, cls).final_equity


def ours_vectorized(bars: dict[str, BarSeries]) -> float:
    cls = SmaCrossSignals if len(bars) == 1 else PortfolioSignals
    return run_backtest(SPEC, bars, cls).final_equity


def floor(bars: dict[str, BarSeries]) -> float:
    _, fn = floor_function()
    open_ = np.vstack([b.open for b in bars.values()])
    close = np.vstack([b.close for b in bars.values()])
    return float(fn(open_, close, FAST, SLOW, share_of(len(bars)), CASH, COMMISSION))


# ----------------------------------------------------------------------------- vectorbt


def vectorbt(bars: dict[str, BarSeries]) -> float:
    return _vectorbt(bars, stats=False)


def vectorbt_with_stats(bars: dict[str, BarSeries]) -> float:
    """vectorbt plus its statistics: like for like with ours, which always computes them."""
    return _vectorbt(bars, stats=True)


def _vectorbt(bars: dict[str, BarSeries], stats: bool) -> float:
    """vectorbt's own recipe: its MA indicator and crossings, then a portfolio simulation."""
    import pandas as pd
    import vectorbt as vbt

    first = next(iter(bars.values()))
    # tz-naive (UTC): a tz-aware index makes vectorbt convert it to objects on every wrap.
    index = pd.to_datetime(first.timestamps)
    close = pd.DataFrame({s: b.close for s, b in bars.items()}, index=index)
    open_ = pd.DataFrame({s: b.open for s, b in bars.items()}, index=index)
    fast = vbt.MA.run(close, FAST, short_name="fast")
    slow = vbt.MA.run(close, SLOW, short_name="slow")
    # Decided at bar t's close, filled at bar t+1's open: the signals move one bar later.
    entries = fast.ma_crossed_above(slow).shift(1, fill_value=False)
    exits = fast.ma_crossed_below(slow).shift(1, fill_value=False)
    entries.columns = exits.columns = close.columns  # drop the indicators' parameter levels
    common = {
        "price": open_,
        "fees": COMMISSION,
        "init_cash": CASH,
        "size_granularity": 1.0,  # whole shares
        "freq": pd.Timedelta(int(first.timestamps[1] - first.timestamps[0]), "ns"),
    }
    if len(bars) == 1:
        pf = vbt.Portfolio.from_signals(close, entries, exits, size=np.inf, **common)
    else:
        # 1/N of the group's value at the fill bar's open, commission inside that budget (as
        # ours sizes it); from_signals has no size relative to the whole value, from_orders
        # does. Columns are filled in symbol order, like our submit order, and the value is
        # updated after each fill (a commission paid lowers the next order's budget).
        share = share_of(len(bars)) / (1.0 + COMMISSION)
        size = np.where(entries, share, np.where(exits, 0.0, np.nan))
        pf = vbt.Portfolio.from_orders(
            close,
            pd.DataFrame(size, index=index, columns=close.columns),
            size_type="targetpercent",
            val_price=open_,
            cash_sharing=True,
            group_by=True,
            update_value=True,
            **common,
        )
    if stats:
        pf.stats(silence_warnings=True)
    return float(np.asarray(pf.value()).reshape(-1)[-1])


def vectorbt_available() -> bool:
    try:
        import vectorbt  # noqa: F401
    except Exception:
        return False
    return True


# The contenders run in-process by sample.py (backtesting.py is bt_worker.py's).
RUNNERS: dict[str, Callable[[dict[str, BarSeries]], float]] = {
    "ours-event": ours_event,
    "ours-vectorized": ours_vectorized,
    "vectorbt": vectorbt,
    "vectorbt-stats": vectorbt_with_stats,
    "floor": floor,
}
