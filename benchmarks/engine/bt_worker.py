"""backtesting.py in a fresh process: ``python -P bt_worker.py BARS.npz CALLS`` (run outside
the repository, so ``import backtesting`` is backtesting.py, not our package of that name).

The strategy of contenders.py, written as a backtesting.py user would: ``self.I`` on a
pandas rolling mean, crossings tested in ``next()``, ``buy()`` with its default size (the most
whole shares 1 - machine epsilon of the equity buys) and ``position.close()``. The crossing
test is contenders.py's (fast[-2] <= slow[-2]); ``backtesting.lib.crossover`` requires a
strict ``<`` there, which would trade differently on a bar where the SMAs were equal.

Same protocol as sample.py: a warm-up call on the first bars, then CALLS timed calls each after
``gc.collect()``; prints one JSON line.
"""

import gc
import json
import resource
import sys
import time
import warnings

import numpy as np
import pandas as pd

from backtesting import Backtest, Strategy  # type: ignore[attr-defined]

warnings.simplefilter("ignore")
WARMUP_BARS = 2_000  # as sample.py
COMMISSION, CASH, FAST, SLOW = 0.002, 100_000, 10, 20  # as contenders.py


def sma(values, n):
    return pd.Series(values).rolling(n).mean()


class SmaCross(Strategy):
    def init(self):
        self.f = self.I(sma, self.data.Close, FAST)
        self.s = self.I(sma, self.data.Close, SLOW)

    def next(self):
        f, s = self.f, self.s
        if f[-2] <= s[-2] and f[-1] > s[-1]:
            self.buy()
        elif f[-2] >= s[-2] and f[-1] < s[-1]:
            self.position.close()


def frame(d, n=None):
    index = pd.to_datetime(d["ts"][:n], utc=True).tz_localize(None)
    columns = {"Open": "open", "High": "high", "Low": "low", "Close": "close", "Volume": "volume"}
    return pd.DataFrame({k: d[v][0][:n] for k, v in columns.items()}, index=index)


def run(df):
    stats = Backtest(df, SmaCross, cash=CASH, commission=COMMISSION).run()
    return float(stats["Equity Final [$]"])


def main():
    d = np.load(sys.argv[1])
    calls = int(sys.argv[2])
    if len(d["symbols"]) != 1:
        raise SystemExit("backtesting.py trades one instrument")
    df = frame(d)
    t0 = time.perf_counter()
    run(frame(d, WARMUP_BARS))
    warmup = time.perf_counter() - t0
    times, cpu, final = [], [], 0.0
    for _ in range(calls):
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        final = run(df)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"warmup": warmup, "times": times, "cpu": cpu, "final": final, "rss": rss}))


if __name__ == "__main__":
    main()
