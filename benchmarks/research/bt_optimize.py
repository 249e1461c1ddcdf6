"""Times backtesting.py's Backtest.optimize over a list of (fast, slow) pairs, in its own process.

Run as ``python -P bt_optimize.py bars.npz combos.json samples`` from outside the repository
(its import name clashes with our package); prints JSON: the times, the process count and each
combination's final equity in the order of combos.json.

The grid is passed as the two axes plus a constraint that admits exactly the listed pairs, so
optimize() runs those combinations and no others (its heatmap is checked against the list).
"""

import gc
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from backtesting.lib import crossover

from backtesting import Backtest, Strategy  # type: ignore[attr-defined]

warnings.simplefilter("ignore")


def sma(values, n):
    return pd.Series(values).rolling(n).mean()


class SmaCross(Strategy):
    fast = 10
    slow = 30

    def init(self):
        self.f = self.I(sma, self.data.Close, self.fast)
        self.s = self.I(sma, self.data.Close, self.slow)

    def next(self):
        if crossover(self.f, self.s):
            self.buy()
        elif crossover(self.s, self.f):
            self.position.close()


def main():
    d = np.load(sys.argv[1])
    pairs = [tuple(p) for p in json.loads(Path(sys.argv[2]).read_text())]
    samples = int(sys.argv[3])
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
    wanted = set(pairs)
    fasts = sorted({f for f, _ in pairs})
    slows = sorted({s for _, s in pairs})

    def once():
        bt = Backtest(df, SmaCross, cash=100_000, commission=0.001)
        _, heatmap = bt.optimize(
            fast=fasts,
            slow=slows,
            constraint=lambda p: (p.fast, p.slow) in wanted,
            maximize="Equity Final [$]",
            return_heatmap=True,
        )
        return heatmap

    times, heatmap = [], None
    for _ in range(samples):
        gc.collect()
        t0 = time.perf_counter()
        heatmap = once()
        times.append(time.perf_counter() - t0)
    got = {(int(f), int(s)): float(v) for (f, s), v in heatmap.items()}
    assert set(got) == wanted, "optimize() ran other combinations than the list"
    print(
        json.dumps({"times": times, "processes": os.cpu_count(), "equity": [got[p] for p in pairs]})
    )


if __name__ == "__main__":
    main()
