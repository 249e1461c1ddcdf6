"""Bollinger band breakout: ride volatility expansions.

Enter long when the close breaks above the upper Bollinger band and leave when it
falls back below the middle band (the moving average). Shows indicators that return
several series at once.
"""

import indicators as ta
from strategy import Param, Strategy


class BollingerBreakout(Strategy):
    """Long on a close above the upper band, out on a close below the middle band."""

    period = Param(20, min=5, max=200, step=1, description="Bollinger moving-average period (bars)")
    width = Param(2.0, min=0.5, max=4.0, step=0.25, description="Band width in standard deviations")
    take_profit = Param(
        0.0,
        min=0.0,
        max=0.5,
        step=0.01,
        description="Take profit as a fraction of the entry price (0 = off)",
    )

    def init(self):
        # ta.bollinger returns (upper, middle, lower); self.I gives back a tuple of
        # progressive views in the same order, so they can be unpacked directly.
        self.upper, self.middle, self.lower = self.I(
            ta.bollinger, self.data.close, self.period, self.width
        )

    def next(self):
        close = self.data.close[-1]
        if not self.position().is_long:
            # Compare with the previous bar too, so we only act on a fresh breakout.
            if close > self.upper[-1] and self.data.close[-2] <= self.upper[-2]:
                if self.take_profit > 0:
                    # tp= attaches a take-profit limit order to the entry (sl= a stop loss).
                    self.buy(tp=close * (1 + self.take_profit))
                else:
                    self.buy()
        elif close < self.middle[-1]:
            self.close()
