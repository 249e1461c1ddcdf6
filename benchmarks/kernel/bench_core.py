"""The vectorized path's simulation core: compiled kernel vs its Python reference vs the floor.

    .venv/bin/python -m benchmarks.kernel.bench_core [--quick] [--samples 7]

The core is what the issue calls "signals to fills, positions and equity": the targets a
``signals()`` returned are checked (signal_targets, zero_nans), turned into orders, booked
(sizing, costs, margin) and rebuilt into the per-bar equity, cash and exposure curve
(run_signals_arrays, build_curve). The signals themselves (benchmarks/engine's SMA 10/20 cross,
whole shares, 0.2 % commission) are computed once, outside the timing, and so are the
statistics: benchmarks/engine times whole runs. The floor is the numba loop of
benchmarks/engine/floor.py (the same trades, SMAs included); the final equities are asserted
equal, and the kernel's and the reference's bit-identical.

How it samples, the same for every contender (the floor included): a sample is a batch of
consecutive calls, as many as make the batch last at least BATCH_SECONDS (timeit's autorange,
fixed per contender before the first sample), and records the time per call. gc.collect()
runs before each sample; inside a batch the collector stays on, as in a real run (timeit
turns it off). The contenders take turns sample by sample, so a change in the machine's load
hits them alike. Medians, the min-max spread and the median process CPU time per call are
printed with the load average.

The target (the compiled core within 3x of the floor) is read from the batch medians, by wall
time and, less sensitive to other work on the machine, by CPU time; the ratio of the fastest
batches is printed too (timeit's own figure): under load the floor's short calls and the
core's longer ones are not disturbed alike, so on the 2,148-bar case at load 3 the median
ratios were seen anywhere between 2.2x and 5.3x while the fastest batches' stayed near 3.5x.
Quote a verdict from a quiet machine (load average below the core count).

On the 2,148-bar case one call takes well under a millisecond, so a single call timed
straight after gc.collect() (which walks every object and evicts the caches) measures mostly
cache misses, not the core.
That single cold call is still taken before each batch and printed beside it (``cold ms``,
``cold vs``: medians), so nothing is hidden.

Last, what each kernel technology costs a fresh process (the sandbox child is one): loading
the compiled library vs importing numba.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backtesting.engine import indicators as ta
from backtesting.engine import kernel
from backtesting.engine.bars import AlignedBars, BarSeries, align_bars
from backtesting.engine.result import build_curve
from backtesting.engine.vectorized import (
    SignalDriver,
    run_signals_arrays,
    signal_targets,
    zero_nans,
)
from benchmarks.engine.contenders import (
    CASH,
    COMMISSION,
    FAST,
    SLOW,
    SPEC,
    held_between_crosses,
    share_of,
)
from benchmarks.engine.data import MINUTE_NS, synthetic
from benchmarks.engine.floor import floor_function

TARGET_VS_FLOOR = 3.0
WARMUP = SLOW - 1  # the first bar with both averages
RELATIVE_TOLERANCE = 1e-9  # the floor sums the same trades in another order
BATCH_SECONDS = 0.02  # a sample's least duration: far above the clock's and a cold call's noise
CORE, FLOOR = "core, compiled kernel", "floor (numba loop)"


def cases(quick: bool) -> list[tuple[str, dict[str, BarSeries]]]:
    out = [
        ("daily-2148", {"SYN": synthetic(2148)}),
        ("100k-min", {"SYN": synthetic(100_000, seed=1, step_ns=MINUTE_NS)}),
    ]
    if not quick:
        out.append(("1M-min", {"SYN": synthetic(1_000_000, seed=2, step_ns=MINUTE_NS)}))
    out.append(
        (
            "portfolio100",
            {f"S{k:03d}": synthetic(2148, seed=100 + k, symbol=f"S{k:03d}") for k in range(100)},
        )
    )
    return out


def core_runner(aligned: AlignedBars, raw: dict[str, np.ndarray]) -> Callable[[], float]:
    def run() -> float:
        targets = zero_nans(signal_targets(raw, aligned, SPEC))
        ledger = run_signals_arrays(SPEC, aligned, SignalDriver(None, targets, WARMUP))  # type: ignore[arg-type]
        assert ledger is not None, "the array path must apply to this strategy"
        return float(build_curve(ledger, aligned, SPEC.initial_cash).equity[-1])

    return run


def without_kernel(fn: Callable[[], float]) -> Callable[[], float]:
    def run() -> float:
        saved, kernel.KERNEL = kernel.KERNEL, None
        try:
            return fn()
        finally:
            kernel.KERNEL = saved

    return run


@dataclass
class Timings:
    """One contender's samples: per-call wall and CPU seconds of each batch, and the wall
    seconds of the single cold call taken before it."""

    calls: int  # per batch
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    cold: list[float] = field(default_factory=list)


def batch_size(fn: Callable[[], Any]) -> int:
    """timeit's autorange: 1, 2, 5, 10, 20, 50, ... calls until a batch lasts BATCH_SECONDS."""
    for calls in (m * 10**e for e in range(9) for m in (1, 2, 5)):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        if time.perf_counter() - t0 >= BATCH_SECONDS:
            return calls
    raise AssertionError("a call that takes no time")


def sample(contenders: dict[str, Callable[[], Any]], samples: int) -> dict[str, Timings]:
    """Per contender, ``samples`` batches taken in turns, each after gc.collect() and a cold
    call of its own. CPU time too because on a shared, loaded machine the wall clock also
    counts the time other processes held the core."""
    # The calibration is the warm-up too: nothing here compiles, but caches fill.
    times = {name: Timings(batch_size(fn)) for name, fn in contenders.items()}
    for _ in range(samples):
        for name, fn in contenders.items():
            t = times[name]
            gc.collect()
            t0 = time.perf_counter()
            fn()
            t.cold.append(time.perf_counter() - t0)
            gc.collect()
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(t.calls):
                fn()
            t.wall.append((time.perf_counter() - t0) / t.calls)
            t.cpu.append((time.process_time() - c0) / t.calls)
    return times


def run_case(
    name: str, bars: dict[str, BarSeries], samples: int
) -> tuple[list[str], tuple[float, float, float]]:
    """The case's table rows and the compiled core over the floor: batch medians (wall,
    CPU) and fastest batches (wall)."""
    aligned = align_bars(bars)
    share = share_of(len(aligned.symbols))
    raw = {
        sym: held_between_crosses(
            ta.sma(aligned.close[s], FAST), ta.sma(aligned.close[s], SLOW), share
        )
        for s, sym in enumerate(aligned.symbols)
    }
    compiled = core_runner(aligned, raw)
    reference = without_kernel(compiled)
    equity = compiled()
    assert kernel.KERNEL is None or equity.hex() == reference().hex(), "kernel != reference"
    _, floor = floor_function()
    open_, close = np.ascontiguousarray(aligned.open), np.ascontiguousarray(aligned.close)

    def floor_run() -> float:
        return float(floor(open_, close, FAST, SLOW, share, CASH, COMMISSION))

    floor_equity = floor_run()
    assert abs(floor_equity - equity) <= RELATIVE_TOLERANCE * abs(floor_equity), (
        f"the floor ends at {floor_equity}, the core at {equity}: not the same trades"
    )
    contenders: dict[str, Callable[[], Any]] = {
        CORE: compiled,
        "core, Python reference": reference,
        FLOOR: floor_run,
    }
    if kernel.KERNEL is None:
        del contenders[CORE]
    times = sample(contenders, samples if aligned.n_bars * len(bars) < 500_000 else 3)
    floor_t = times[FLOOR]
    floor_wall, floor_cpu, floor_cold = (
        statistics.median(x) for x in (floor_t.wall, floor_t.cpu, floor_t.cold)
    )
    rows = []
    for who, t in times.items():
        med, cpu, cold = (statistics.median(x) for x in (t.wall, t.cpu, t.cold))
        rows.append(
            f"{name:<13}{who:<24}{t.calls:>6}{med * 1e3:>10.3f}{min(t.wall) * 1e3:>9.3f}"
            f"{max(t.wall) * 1e3:>9.3f}{cpu * 1e3:>9.3f}{med / floor_wall:>8.2f}x"
            f"{cpu / floor_cpu:>7.2f}x{cold * 1e3:>9.3f}{cold / floor_cold:>7.2f}x"
        )
    core = times.get(CORE)
    if core is None:
        return rows, (math.inf, math.inf, math.inf)
    return rows, (
        statistics.median(core.wall) / floor_wall,
        statistics.median(core.cpu) / floor_cpu,
        min(core.wall) / min(floor_t.wall),
    )


def fresh_process_costs() -> list[str]:
    """What a fresh process (a sandbox child) pays for each kernel technology, NumPy loaded."""
    probe = (
        "import time, ctypes, numpy; t0 = time.perf_counter(); {stmt}; "
        "print(time.perf_counter() - t0)"
    )
    stmts = {
        "dlopen the C kernel (ctypes)": f"ctypes.CDLL({str(kernel.LIBRARY)!r})",
        "import numba": "import numba",
    }
    rows = []
    for label, stmt in stmts.items():
        runs = []
        for _ in range(3):
            done = subprocess.run(
                [sys.executable, "-c", probe.format(stmt=stmt)],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                break
            runs.append(float(done.stdout))
        shown = f"{statistics.median(runs) * 1e3:.2f} ms" if runs else "unavailable"
        rows.append(f"  {label:<30}{shown:>12}  (median of {len(runs)} fresh processes)")
    return rows


def _verdict(ratio: float) -> str:
    return f"{ratio:.2f}x {'met' if ratio <= TARGET_VS_FLOOR else 'NOT met'}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 1M-bar case")
    parser.add_argument("--samples", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"kernel: {'loaded' if kernel.KERNEL is not None else 'MISSING (make install)'}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    head = (
        f"{'case':<13}{'contender':<24}{'calls':>6}{'per call':>10}{'min':>9}{'max':>9}"
        f"{'CPU':>9}{'vs floor':>9}{'CPU vs':>8}{'cold ms':>9}{'cold vs':>8}"
    )
    print(head + "\n" + "-" * len(head))
    verdicts = []
    for name, bars in cases(args.quick):
        rows, (wall, cpu, fastest) = run_case(name, bars, args.samples)
        for row in rows:
            print(row, flush=True)
        verdicts.append(f"{name} {_verdict(wall)} (CPU {_verdict(cpu)}, min {_verdict(fastest)})")
    print(
        f"per call, min, max: ms per call in a batch of `calls` consecutive calls lasting at"
        f" least {BATCH_SECONDS * 1e3:.0f} ms (median and spread of {args.samples} alternating"
        " samples, 3 on the 1M-bar case, gc.collect() before each); CPU: the median process"
        " time per call; cold ms: one call straight after gc.collect() before each batch"
        " (median; below a millisecond it measures mostly cache misses, not the core)"
    )
    print(
        f"target, the compiled core within {TARGET_VS_FLOOR:.0f}x of the floor (batch"
        f" medians, wall and CPU; min: the fastest batches, timeit's figure, the least"
        f" disturbed by other work): {'; '.join(verdicts)}"
    )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("cost of the kernel technology in a fresh process:")
    for row in fresh_process_costs():
        print(row)


if __name__ == "__main__":
    main()
