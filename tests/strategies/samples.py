"""Valid strategies used by the validation tests (the shapes users are expected to write)."""

SMA_CROSS = '''\
from strategy import Strategy, Param
import indicators as ta


class SmaCross(Strategy):
    """Long when the fast SMA is above the slow SMA."""

    fast = Param(10, min=2, max=200, step=1, description="Fast SMA period (bars)")
    slow = Param(20, min=5, max=400, step=1, description="Slow SMA period (bars)")

    def init(self):
        self.sma_fast = self.I(ta.sma, self.data.close, self.fast)
        self.sma_slow = self.I(ta.sma, self.data.close, self.slow)

    def next(self):
        if ta.crossover(self.sma_fast, self.sma_slow):
            self.buy()
        elif ta.crossunder(self.sma_fast, self.sma_slow):
            self.close()
'''

RSI_REVERSION = """\
from strategy import Param, Strategy
from indicators import rsi
import math


def clamp(value, low, high):
    return max(low, min(high, value))


class RsiReversion(Strategy):
    period = Param(14, min=2, max=100, description="RSI look-back (bars)")
    oversold = Param(30.0, min=0, max=50.0, step=0.5)
    overbought = Param(70.0, min=50, max=100, step=0.5, description="sell above this")
    size = Param(0.5, choices=[0.25, 0.5, 1])
    use_stops = Param(True, description="attach a stop loss")

    def init(self):
        self.rsi = self.I(rsi, self.data.close, self.period)
        self.trades = 0

    def next(self):
        level = self.rsi[-1]
        if math.isnan(level):
            return
        if level < self.oversold and not self.position().is_long:
            stop = self.data.close[-1] * 0.95 if self.use_stops else None
            self.buy(fraction=clamp(self.size, 0.0, 1.0), sl=stop, tag=f"rsi {level:.1f}")
            self.trades += 1
        elif level > self.overbought:
            self.close()
"""

MULTI_ASSET = '''\
from strategy import Strategy, Param
import indicators as ta


class PairRotation(Strategy):
    """Hold whichever symbol has the stronger momentum."""

    lookback = Param(20, min=5, max=250)
    mode = Param("momentum", choices=("momentum", "mean_reversion"))
    threshold = Param(-0.01, min=-1.0, max=1.0, step=0.01)

    def init(self):
        self.momentum = {}
        for symbol in self.symbols:
            closes = self.datas[symbol].close
            self.momentum[symbol] = self.I(ta.roc, closes, self.lookback)

    def next(self):
        scores = {symbol: self.momentum[symbol][-1] for symbol in self.symbols}
        best, score = max(scores.items(), key=lambda item: item[1])
        if self.mode == "mean_reversion":
            best, score = min(scores.items(), key=lambda item: item[1])
        for symbol in self.symbols:
            if symbol != best and self.position(symbol=symbol).size:
                self.close(symbol=symbol)
        if score > self.threshold and not self.position(symbol=best).size:
            self.buy(symbol=best, fraction=0.9)
'''

VECTORIZED = """\
from strategy import Param, Strategy
import numpy as np
import indicators as ta


class TrendFilter(Strategy):
    window = Param(50, min=10, max=400, step=10)
    leverage = Param(1.0, min=0.1, max=1.0)

    @staticmethod
    def smooth(values, window):
        return ta.sma(values, window)

    def signals(self, data):
        close = data.close
        trend = self.smooth(close, self.window)
        target = np.where(close > trend, self.leverage, 0.0)
        counts = [0, 0]
        counts[0] += 1
        return np.nan_to_num(target)
"""
