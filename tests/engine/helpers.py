"""Bar builders and small strategies shared by the engine tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from backtesting.engine import BarSeries, Param, Strategy
from backtesting.engine import indicators as ta

DAY_NS = 86_400 * 10**9
EPOCH_2024 = 1_704_067_200 * 10**9  # 2024-01-01T00:00:00Z, a Monday


def bars_from_rows(
    rows: list[list[float]], symbol: str = "AAA", start: int = EPOCH_2024
) -> BarSeries:
    """BarSeries from [open, high, low, close] rows, one per calendar day."""
    arr = np.asarray(rows, dtype=np.float64)
    ts = start + np.arange(len(arr), dtype=np.int64) * DAY_NS
    return BarSeries(symbol, ts, arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], np.ones(len(arr)))


def random_bars(n: int, seed: int = 1, symbol: str = "AAA", vol: float = 0.01) -> BarSeries:
    """A geometric random walk with consistent OHLC (opens gap from the previous close)."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
    open_ = np.r_[close[0], close[:-1]] * np.exp(rng.normal(0.0, vol / 5, n))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0.0, vol / 2, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0.0, vol / 2, n)))
    ts = EPOCH_2024 + np.arange(n, dtype=np.int64) * DAY_NS
    return BarSeries(symbol, ts, open_, high, low, close, np.full(n, 1000.0))


class SmaCross(Strategy):
    """Long while SMA(fast) > SMA(slow): buy all-in on entry, close on exit."""

    fast = Param(10, min=2, max=200)
    slow = Param(20, min=5, max=400)

    def init(self) -> None:
        self.f = self.I(ta.sma, self.data.close, self.fast)
        self.s = self.I(ta.sma, self.data.close, self.slow)

    def next(self) -> None:
        if self.f[-1] > self.s[-1]:
            if not self.position():
                self.buy(fraction=1.0)
        elif self.position():
            self.close()


class SmaCrossSignals(Strategy):
    """The same logic as SmaCross in vectorized form."""

    fast = Param(10, min=2, max=200)
    slow = Param(20, min=5, max=400)

    def signals(self, data: Any) -> np.ndarray:
        f = self.I(ta.sma, data.close, self.fast)
        s = self.I(ta.sma, data.close, self.slow)
        return (f > s).astype(float)


class Scripted(Strategy):
    """Replays ``script`` {bar: [(action, kwargs)]}; orders placed are kept for ``cancel``."""

    script: dict[int, list[tuple[str, dict[str, Any]]]] = {}

    def init(self) -> None:
        self.placed: list[Any] = []

    def next(self) -> None:
        for action, kwargs in self.script.get(self.bar_index, []):
            if action == "cancel":
                if kwargs["order"] < len(self.placed):  # random streams may name a later order
                    self.placed[kwargs["order"]].cancel()
            elif action == "close":
                self.placed.append(self.close(**kwargs))
            else:
                self.placed.append(getattr(self, action)(**kwargs))


def scripted(script: dict[int, list[tuple[str, dict[str, Any]]]]) -> type[Strategy]:
    return type("ScriptedCase", (Scripted,), {"script": script})


def signals_strategy(targets: dict[str, np.ndarray]) -> type[Strategy]:
    """A vectorized strategy whose ``signals()`` returns these fixed targets."""

    class Signals(Strategy):
        def signals(self, data: Any) -> dict[str, np.ndarray]:
            return targets

    return Signals
