"""Donchian channel breakout with ATR stops (the "turtle" idea).

Buy when the close breaks the highest high of the last N bars, protect the trade with
a stop loss a multiple of the Average True Range below the entry, and exit on a close
below the lowest low of a shorter channel. Shows stop losses and position sizing by risk.
"""

import indicators as ta
from strategy import Param, Strategy


class DonchianAtrBreakout(Strategy):
    """Long on an N-bar high breakout; ATR stop loss; exit on an M-bar low."""

    entry_period = Param(20, min=5, max=200, step=1, description="Breakout channel length (bars)")
    exit_period = Param(10, min=2, max=100, step=1, description="Exit channel length (bars)")
    atr_period = Param(14, min=2, max=100, step=1, description="ATR period (bars)")
    stop_atr = Param(
        2.0, min=0.5, max=6.0, step=0.5, description="Stop distance in ATRs below the entry"
    )
    risk_per_trade = Param(
        0.02,
        min=0.001,
        max=0.1,
        step=0.001,
        description="Equity risked per trade if the stop is hit",
    )

    def init(self):
        # donchian() returns (upper, lower, middle) INCLUDING the current bar, so a
        # breakout compares today's close with yesterday's channel ([-2]).
        # Index the tuple to keep just the band we need: upper for entries, lower for exits.
        entry_channel = self.I(ta.donchian, self.data.high, self.data.low, self.entry_period)
        exit_channel = self.I(ta.donchian, self.data.high, self.data.low, self.exit_period)
        self.entry_upper = entry_channel[0]
        self.exit_lower = exit_channel[1]
        self.atr = self.I(ta.atr, self.data.high, self.data.low, self.data.close, self.atr_period)

    def next(self):
        close = self.data.close[-1]
        if not self.position().is_long:
            if close > self.entry_upper[-2]:
                stop_distance = self.stop_atr * self.atr[-1]
                if stop_distance <= 0:
                    return
                # Size so that hitting the stop loses about risk_per_trade of equity,
                # but never more than the equity we have.
                units = (self.equity * self.risk_per_trade) / stop_distance
                units = min(units, self.equity / close)
                if units > 0:
                    # sl= attaches a protective stop order to the entry.
                    self.buy(units=units, sl=close - stop_distance, tag="breakout")
        elif close < self.exit_lower[-2]:
            self.close()
