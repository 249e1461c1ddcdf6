"""Times backtesting.py in its own process (its import name clashes with our package).

Run as ``python -P bt_worker.py bars.npz repeats`` from outside the repository; prints JSON.
"""

import json
import sys
import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd
from backtesting.lib import crossover

# Run with -P in a subprocess so this is backtesting.py, not our package of the same name.
from backtesting import Backtest, Strategy  # type: ignore[attr-defined]

warnings.simplefilter("ignore")


def sma(values, n):
    return pd.Series(values).rolling(n).mean()


class SmaCross(Strategy):
    def init(self):
        self.f = self.I(sma, self.data.Close, 10)
        self.s = self.I(sma, self.data.Close, 20)

    def next(self):
        if crossover(self.f, self.s):
            self.buy()
        elif crossover(self.s, self.f):
            self.position.close()


def main():
    d = np.load(sys.argv[1])
    repeats = int(sys.argv[2])
    index = pd.to_datetime(d["ts"], utc=True).tz_localize(None)
    df = pd.DataFrame(
        {
            "Open": d["open"],
            "High": d["high"],
            "Low": d["low"],
            "Close": d["close"],
            "Volume": d["volume"],
        },
        index=index,
    )

    def once():
        bt = Backtest(df, SmaCross, cash=100_000, commission=0.001)
        return float(bt.run()["Equity Final [$]"])

    t0 = time.perf_counter()
    final = once()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        once()
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    once()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(json.dumps({"first": first, "times": times or [first], "peak": peak, "final": final}))


if __name__ == "__main__":
    main()
