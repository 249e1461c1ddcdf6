"""RSI mean reversion: buy weakness, sell strength.

Buy when the Relative Strength Index climbs back out of the oversold zone and sell
when it reaches the exit level. A long-term SMA filter keeps it out of falling markets.
"""

import indicators as ta
from strategy import Param, Strategy


class RsiMeanReversion(Strategy):
    """Long after an oversold RSI turns up (above the trend filter); exit on strength."""

    period = Param(14, min=2, max=100, step=1, description="RSI period (bars)")
    oversold = Param(
        30.0, min=5.0, max=50.0, step=1.0, description="RSI level that counts as oversold"
    )
    exit_level = Param(
        60.0, min=40.0, max=95.0, step=1.0, description="RSI level at which to take profit"
    )
    trend_period = Param(
        200, min=20, max=500, step=10, description="Trend filter SMA period (bars)"
    )
    use_trend_filter = Param(True, description="Only buy while the close is above the trend SMA")
    position_size = Param(
        0.5, min=0.05, max=1.0, step=0.05, description="Fraction of equity per trade"
    )

    def init(self):
        self.rsi = self.I(ta.rsi, self.data.close, self.period)
        self.trend = self.I(ta.sma, self.data.close, self.trend_period)

    def next(self):
        position = self.position()  # .size, .is_long, .is_short, .entry_price, .pl
        if not position.is_long:
            # crossover() also accepts a plain number: "RSI rose through the oversold line".
            turned_up = ta.crossover(self.rsi, self.oversold)
            in_uptrend = self.data.close[-1] > self.trend[-1]
            if turned_up and (in_uptrend or not self.use_trend_filter):
                # fraction= sizes the order as a share of equity; units= and value= also exist.
                self.buy(fraction=self.position_size)
        elif self.rsi[-1] >= self.exit_level:
            self.close()
