"""Benchmark: a parameter sweep as one sandbox batch against one sandbox run per combination.

    .venv/bin/python -m benchmarks.sandbox.bench_batch [--samples 3] [--bars 2520]

The grid of issue 13: the SMA-crossover example with fast 5..50 step 5 x slow 20..200 step 20,
fast < slow (90 combinations), over ten years of synthetic daily bars. Rows, all computing the
same 90 combinations and the same headline metrics:

- batch: run_strategy_batch_in_sandbox, one jailed child for all 90;
- single runs: run_strategy_in_sandbox 90 times, one jailed child each (what a sweep costs
  without the batch protocol);
- in-process reference: the batch child's own loop (batch_runner.run_batch) in this process,
  without a child or a pipe: the floor the sandbox overhead is measured against.

Each row runs `--samples` times with garbage collection between samples; the table shows the
median, the spread (max - min), combinations per second and the ratio to the single runs'
median. Every sample's metrics are checked equal to the single runs' (the rows do one job).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backtesting.engine import BacktestSpec, BarSeries
from backtesting.sandbox import (
    SandboxLimits,
    batch_runner,
    isolation_level,
    run_strategy_batch_in_sandbox,
    run_strategy_in_sandbox,
)
from backtesting.sandbox.batch import parameter_sets_resolve
from backtesting.sandbox.compact import HEADLINE_METRICS
from benchmarks.engine.data import synthetic
from strategies.validation import validate_strategy_code

ROOT = Path(__file__).resolve().parents[2]
CODE = (ROOT / "strategies/examples/sma_crossover.py").read_text()
GRID = [
    {"fast": fast, "slow": slow}
    for fast in range(5, 55, 5)
    for slow in range(20, 220, 20)
    if fast < slow
]
LIMITS = SandboxLimits()  # one run's defaults; the batch scales them (batch_limits)
Metrics = list[dict[str, Any]]


def batch_in_one_child(bars: dict[str, BarSeries], spec: dict[str, Any]) -> Metrics:
    declared = validate_strategy_code(CODE).parameters
    result = run_strategy_batch_in_sandbox(CODE, spec, bars, GRID, declared, LIMITS)
    assert all(item.ok for item in result.items), [i.error for i in result.items if i.error]
    return [dict(item.metrics or {}) for item in result.items]


def one_child_per_combination(bars: dict[str, BarSeries], spec: dict[str, Any]) -> Metrics:
    metrics = []
    for params in GRID:
        result = run_strategy_in_sandbox(CODE, {**spec, "params": params}, bars, LIMITS)
        metrics.append({key: result["statistics"][key] for key in HEADLINE_METRICS})
    return metrics


def in_process_reference(bars: dict[str, BarSeries], spec: dict[str, Any]) -> Metrics:
    declared = validate_strategy_code(CODE).parameters
    header = {
        "code": CODE,
        "spec": spec,
        "parameter_sets": parameter_sets_resolve(declared, GRID),
        # No lockdown in this process: an infinite share leaves its CPU limit alone.
        "limits": {**LIMITS.to_dict(), "item_cpu_seconds": 10**9},
    }
    columns = {
        symbol: {name: getattr(series, name) for name in
                 ("timestamps", "open", "high", "low", "close", "volume")}
        for symbol, series in bars.items()
    }  # fmt: skip
    message = batch_runner.run_batch(header, columns, lambda fraction: None)
    return [item["metrics"] for item in message["result"]["items"]]


def measure(func: Callable[[], Metrics], samples: int, expected: Metrics | None) -> list[float]:
    times = []
    for _ in range(samples):
        gc.collect()
        started = time.perf_counter()
        metrics = func()
        times.append(time.perf_counter() - started)
        if expected is not None:
            assert metrics == expected, "a row computed different metrics"
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--bars", type=int, default=2520)
    args = parser.parse_args()

    series = synthetic(args.bars, seed=7, symbol="SYN")
    bars, spec = {"SYN": series}, BacktestSpec().to_dict()
    expected = one_child_per_combination(bars, spec)  # also warms the page cache
    rows: list[tuple[str, Callable[[], Metrics]]] = [
        ("single runs (one child each)", lambda: one_child_per_combination(bars, spec)),
        ("batch (one child)", lambda: batch_in_one_child(bars, spec)),
        ("in-process reference", lambda: in_process_reference(bars, spec)),
    ]
    print(
        f"{len(GRID)} combinations x {args.bars:,} daily bars, {args.samples} samples, "
        f"isolation {isolation_level()}"
    )
    print(f"{'row':<32}{'median s':>10}{'spread s':>10}{'comb/s':>9}{'x single':>10}")
    base = None
    for label, func in rows:
        times = measure(func, args.samples, expected)
        median = statistics.median(times)
        base = base or median
        print(
            f"{label:<32}{median:>10.2f}{max(times) - min(times):>10.2f}"
            f"{len(GRID) / median:>9.0f}{base / median:>10.1f}"
        )


if __name__ == "__main__":
    main()
