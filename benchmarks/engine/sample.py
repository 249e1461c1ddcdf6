"""One contender in a fresh process: ``python -m benchmarks.engine.sample WHO BARS.npz CALLS``.

A warm-up call on the first WARMUP_BARS bars pays the imports, caches and JIT compilation;
then CALLS timed calls on the whole data, each after ``gc.collect()`` so no call pays for the
garbage of the one before. Prints one JSON line: the warm-up time, the times, the final
equity and the process's peak RSS. backtesting.py has its own worker (bt_worker.py) that
speaks the same protocol.
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
from pathlib import Path

from benchmarks.engine.contenders import RUNNERS
from benchmarks.engine.data import head, load_bars

WARMUP_BARS = 2_000


def main(who: str, path: Path, calls: int) -> None:
    run = RUNNERS[who]
    bars = load_bars(path)
    t0 = time.perf_counter()
    run(head(bars, WARMUP_BARS))
    warmup = time.perf_counter() - t0
    times, cpu, final = [], [], 0.0
    for _ in range(calls):
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        final = run(bars)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {"warmup": warmup, "times": times, "cpu": cpu, "final": final, "rss": peak_kb * 1024}
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]))
