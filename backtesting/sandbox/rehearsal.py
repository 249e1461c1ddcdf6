"""A job's child rehearses before its job arrives, so the job does not pay the fork's copying.

A child forked from the zygote shares the zygote's memory copy-on-write. Python writes to every
object it uses (reference counts), so the child's first run copies page after page of the
zygote's modules: measured on a ten-year daily SMA crossover, about 1,700 page faults and 8 ms
of CPU on top of the job's own 11 ms, all inside the job's latency. The zygote therefore forks
each job's child ahead of time (zygote_jailed.py, the "spare"), and the spare first runs this
rehearsal: our own example strategy on a few hundred synthetic bars, through exactly the code
a job runs (validation, compilation, the guards, the engine, the result), then waits for its
job. Most of those pages are copied by then (about 350 faults remain).

What a rehearsal leaves behind is what the zygote could hold as well: our code's caches and
warm-up state, no user code and no user data. It runs before the lockdown, as the trusted
imports do, and a rehearsal that fails only costs the warm-up: the spare exits and the zygote
forks the job's child as before. Its CPU time (a few ms) counts in the job's reported usage.
"""

from __future__ import annotations

import gc

import numpy as np

from backtesting.sandbox import runner
from backtesting.sandbox.wire import encode_message

BARS = 300
DAY_NS = 86_400 * 10**9
# Written here rather than read from strategies/examples (not mounted in the jail); the same
# shape as that example: two indicators, crossovers, buy and close.
STRATEGY = (
    "from strategy import Strategy, Param\n"
    "import indicators as ta\n"
    "class Rehearsal(Strategy):\n"
    "    fast = Param(10)\n"
    "    slow = Param(30)\n"
    "    def init(self):\n"
    "        self.f = self.I(ta.sma, self.data.close, self.fast)\n"
    "        self.s = self.I(ta.sma, self.data.close, self.slow)\n"
    "    def next(self):\n"
    "        if ta.crossover(self.f, self.s):\n"
    "            self.buy()\n"
    "        elif ta.crossunder(self.f, self.s):\n"
    "            self.close()\n"
)


def rehearse() -> bool:
    """Run the rehearsal; True when it ran to a result (False: it failed, nothing else)."""
    steps = np.arange(BARS, dtype=np.float64)
    close = 100.0 + 10.0 * np.sin(steps / 9.0)
    columns = {
        "REHEARSAL": {
            "timestamps": np.arange(BARS, dtype=np.int64) * DAY_NS,
            "open": close,
            "high": close + 1.0,
            "low": close - 1.0,
            "close": close,
            "volume": np.full(BARS, 1e6),
        }
    }
    header = {
        "code": STRATEGY,
        "spec": {"initial_cash": 100_000.0, "params": {}},
        "limits": {"log_bytes": 1024, "output_bytes": 1 << 24},
        "with_orders": False,
    }
    message = runner.run_job(header, columns, lambda fraction: None)
    encode_message(message)  # the result line, as the child writes it
    gc.collect()
    return message.get("type") == "result"
