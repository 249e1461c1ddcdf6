"""Momentum rotation across several instruments.

Every few bars, rank the instruments by their return over a look-back window and hold
only the strongest one (if its momentum is positive). Shows multi-asset backtests:
self.symbols, self.datas[symbol] and the symbol= argument of the order methods.
Run it on a backtest with two or more symbols; with one symbol it simply times that one.
"""

from strategy import Param, Strategy


class MomentumRotation(Strategy):
    """Hold the instrument with the best look-back return; rebalance on a fixed schedule."""

    lookback = Param(60, min=5, max=250, step=5, description="Momentum look-back (bars)")
    rebalance_every = Param(20, min=1, max=120, step=1, description="Bars between rebalances")
    min_momentum = Param(
        0.0, min=-0.5, max=0.5, step=0.01, description="Minimum return to hold anything"
    )

    def init(self):
        self.holding = None  # the symbol we currently hold; plain attributes are fine

    def next(self):
        if self.bar_index % self.rebalance_every != 0:
            return
        best = self.strongest_symbol()
        if best == self.holding:
            return
        if self.holding is not None:
            self.close(symbol=self.holding)
        if best is not None:
            # Sell first, then buy: 0.95 leaves room for the close to settle and for costs.
            self.buy(symbol=best, fraction=0.95)
        self.holding = best

    def strongest_symbol(self):
        best, best_momentum = None, self.min_momentum
        for symbol in self.symbols:
            closes = self.datas[symbol].close  # progressive view of that instrument
            if len(closes) <= self.lookback:
                continue  # not enough history yet
            momentum = closes[-1] / closes[-1 - self.lookback] - 1.0
            if momentum > best_momentum:
                best, best_momentum = symbol, momentum
        return best
