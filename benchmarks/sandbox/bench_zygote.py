"""Benchmark: one sandboxed backtest through the worker's zygote against a fresh process per run.

    .venv/bin/python -m benchmarks.sandbox.bench_zygote [--samples 30] [--bars 2520]

run_strategy_in_sandbox() of the SMA-crossover example (strategies/examples/sma_crossover.py)
over ten years of synthetic daily bars, the worker's whole path (payload, jail, lockdown,
validation, the run, the result checks). Rows:

- fresh process: TP_SANDBOX_ZYGOTE=0, a new jailed interpreter per run (imports every time);
- zygote child: a child forked by this process's warm zygote per run (started before timing);
- in-process floor: the child's own job (the payload decoded, then runner.run_job: validation,
  compile, the run) in this process, without a jail, a pipe or a lockdown: what the sandbox
  overhead is measured against.

The rows take turns sample by sample (so a change of load hits every row alike), with garbage
collection before each sample; each sample's statistics are checked equal to the first row's.
The table shows the median, the 95th percentile, the spread (max - min) and the ratio of the
fresh process's median to each row's. The machine's load is printed before and after.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backtesting.engine import BacktestSpec, BarSeries
from backtesting.sandbox import SandboxLimits, isolation_level, run_strategy_in_sandbox, zygote
from backtesting.sandbox.wire import decode_payload, encode_payload
from benchmarks.engine.data import synthetic

ROOT = Path(__file__).resolve().parents[2]
CODE = (ROOT / "strategies/examples/sma_crossover.py").read_text()
LIMITS = SandboxLimits()
Statistics = dict[str, Any]


def sandboxed(bars: dict[str, BarSeries], spec: dict[str, Any], zygote_on: bool) -> Statistics:
    os.environ[zygote.ENABLED_VARIABLE] = "1" if zygote_on else "0"
    return dict(run_strategy_in_sandbox(CODE, spec, bars, LIMITS)["statistics"])


def in_process(bars: dict[str, BarSeries], spec: dict[str, Any]) -> Statistics:
    from backtesting.sandbox import runner

    header = {"code": CODE, "spec": spec, "limits": LIMITS.to_dict()}
    # The bars through the pipe's codec, as the child receives them.
    header, columns = decode_payload(io.BytesIO(b"".join(encode_payload(header, bars))))
    message = runner.run_job(header, columns, lambda fraction: None)
    assert message["type"] == "result", message
    return dict(message["result"]["statistics"])


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--bars", type=int, default=2520)
    args = parser.parse_args()

    bars = {"SYN": synthetic(args.bars, seed=7, symbol="SYN")}
    spec = BacktestSpec().to_dict()
    rows: list[tuple[str, Callable[[], Statistics]]] = [
        ("fresh process", lambda: sandboxed(bars, spec, zygote_on=False)),
        ("zygote child", lambda: sandboxed(bars, spec, zygote_on=True)),
        ("in-process floor", lambda: in_process(bars, spec)),
    ]
    expected = rows[0][1]()  # also warms the page cache
    zygote.zygote_start()
    rows[1][1]()  # the zygote is ready before timing, as in a worker that has started
    print(
        f"SMA crossover x {args.bars:,} daily bars, {args.samples} samples per row, "
        f"isolation {isolation_level()}, {load()}"
    )
    times: dict[str, list[float]] = {label: [] for label, _ in rows}
    for _ in range(args.samples):
        for label, func in rows:
            gc.collect()
            started = time.perf_counter()
            result = func()
            times[label].append(time.perf_counter() - started)
            assert result == expected, f"{label} computed different statistics"
    zygote.zygote_stop()

    print(f"{'row':<20}{'median ms':>11}{'p95 ms':>9}{'spread ms':>11}{'x fresh':>9}")
    base = statistics.median(times[rows[0][0]])
    for label, samples in times.items():
        median = statistics.median(samples)
        p95 = statistics.quantiles(samples, n=20)[-1]
        spread = max(samples) - min(samples)
        print(
            f"{label:<20}{median * 1e3:>11.1f}{p95 * 1e3:>9.1f}{spread * 1e3:>11.1f}"
            f"{base / median:>9.1f}"
        )
    print(f"after: {load()}")


if __name__ == "__main__":
    main()
