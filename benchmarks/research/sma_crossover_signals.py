"""SMA crossover in the vectorized style: the same trades as strategies/examples/sma_crossover.py.

In on a cross of the fast SMA above the slow one, out on a cross back below, decided at a bar's
close and filled at the next open, all-in: the event-driven example's logic written as one
target per bar (1 from a cross up until the next cross down, else 0) so the engine's array path
runs it. The research benchmark sweeps this file; tests/optimization checks it trades exactly
as the example does.
"""

import indicators as ta
import numpy as np
from strategy import Param, Strategy


class SmaCrossoverSignals(Strategy):
    """Long from a cross of the fast SMA above the slow one until it crosses back below."""

    fast = Param(10, min=2, max=200, step=1, description="Fast SMA period (bars)")
    slow = Param(30, min=5, max=400, step=1, description="Slow SMA period (bars)")

    def signals(self, data):
        fast = self.I(ta.sma, data.close, self.fast)
        slow = self.I(ta.sma, data.close, self.slow)
        up = ta.crossover(fast, slow)
        crossed = up | ta.crossunder(fast, slow)
        # The bar of the latest cross at or before each bar (bar 0, never a cross, before any).
        latest = np.maximum.accumulate(np.where(crossed, np.arange(len(crossed)), 0))
        return np.where(up[latest], 1.0, 0.0)
