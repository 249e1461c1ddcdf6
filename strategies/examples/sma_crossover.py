"""SMA crossover: the "hello world" of trend following.

Go long when a fast simple moving average crosses above a slow one and get out
when it crosses back below. Start here: it shows every part of a strategy file.
"""

# A strategy file may import only these four things. In the sandbox each one is a
# small, safe stand-in for the real module.
import indicators as ta  # our indicator functions: ta.sma, ta.rsi, ta.crossover, ...
from strategy import Param, Strategy  # the base class and the parameter declaration


# Exactly one class per file derives from Strategy; its name is what you see in reports.
class SmaCrossover(Strategy):
    """Long while the fast SMA is above the slow SMA, flat otherwise."""

    # Parameters are class attributes declared with Param(default, ...). The arguments
    # must be literals: the platform reads them without running your code, to build
    # the backtest form and to check the values users type in. The type comes from the
    # default (10 -> int, 1.5 -> float, True -> bool, "x" -> str).
    fast = Param(10, min=2, max=200, step=1, description="Fast SMA period (bars)")
    slow = Param(30, min=5, max=400, step=1, description="Slow SMA period (bars)")

    def init(self):
        # init() runs once, before the first bar. self.data.close is the full close
        # series here; self.I() computes an indicator over all of it in one go and
        # returns a "progressive view" that only reveals the bars seen so far.
        # Inside init, self.fast is already the resolved int value.
        self.sma_fast = self.I(ta.sma, self.data.close, self.fast)
        self.sma_slow = self.I(ta.sma, self.data.close, self.slow)

    def next(self):
        # next() runs once per bar after the warm-up (the bars the indicators need).
        # view[-1] is the current bar and view[-2] the previous one; looking further
        # ahead than the current bar raises IndexError, so look-ahead bias is impossible.
        if ta.crossover(self.sma_fast, self.sma_slow):
            # With no size argument buy() uses all available equity. Orders fill at the
            # next bar's open by default (the backtest's fill_mode decides).
            self.buy()
        elif ta.crossunder(self.sma_fast, self.sma_slow):
            self.close()  # close the whole position (if any)
