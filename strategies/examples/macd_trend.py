"""MACD trend following, written in the vectorized style.

Instead of init()/next(), a strategy may define signals(self, data) and return the
target position for every bar at once: a fraction of equity between -1 (fully short)
and 1 (fully long). The engine trades towards that target with the same fills, costs
and accounting as an event-driven strategy. Vectorized strategies are short and fast.
"""

import indicators as ta
import numpy as np  # a read-only subset of NumPy: math and array functions
from strategy import Param, Strategy


class MacdTrend(Strategy):
    """Long while MACD is above its signal line and price is above the trend EMA."""

    fast = Param(12, min=2, max=50, step=1, description="Fast EMA period of the MACD line")
    slow = Param(26, min=5, max=200, step=1, description="Slow EMA period of the MACD line")
    signal = Param(9, min=2, max=50, step=1, description="EMA period of the signal line")
    trend_period = Param(
        100, min=10, max=400, step=10, description="Trend filter EMA period (bars)"
    )
    allow_short = Param(False, description="Go short (-1) in down-trends instead of staying flat")

    def signals(self, data):
        # Here data.close is the whole series as a plain NumPy array. Indicators are
        # causal (the value at bar i uses bars <= i only), so nothing leaks from the future.
        # ta.macd returns (macd, signal, histogram); we only need the first two.
        macd_line, signal_line = ta.macd(data.close, self.fast, self.slow, self.signal)[:2]
        trend = ta.ema(data.close, self.trend_period)

        bullish = (macd_line > signal_line) & (data.close > trend)
        bearish = (macd_line < signal_line) & (data.close < trend)
        short_target = -1.0 if self.allow_short else 0.0
        # NaN comparisons are False, so the warm-up bars end up flat (0).
        return np.where(bullish, 1.0, np.where(bearish, short_target, 0.0))
