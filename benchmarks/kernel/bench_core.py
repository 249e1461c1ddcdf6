"""The vectorized path's simulation core: compiled kernel vs its Python reference vs the floor.

    .venv/bin/python -m benchmarks.kernel.bench_core [--quick] [--samples 7]

The core is what the issue calls "signals to fills, positions and equity": the targets a
``signals()`` returned are checked (signal_targets, zero_nans), turned into orders, booked
(sizing, costs, margin) and rebuilt into the per-bar equity, cash and exposure curve
(run_signals_arrays, build_curve). The signals themselves (benchmarks/engine's SMA 10/20 cross,
whole shares, 0.2 % commission) are computed once, outside the timing, and so are the
statistics: benchmarks/engine times whole runs. The floor is the numba loop of
benchmarks/engine/floor.py (the same trades, SMAs included); the final equities are asserted
equal.

Samples alternate between the contenders with a gc.collect() before each; medians and the
spread (min-max) are printed with the machine's load. The kernel's and the reference's final
equity are asserted bit-identical. Last, what each kernel technology costs a fresh process
(the sandbox child is one): loading the compiled library vs importing numba.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
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


def sample(
    contenders: dict[str, Callable[[], Any]], samples: int
) -> dict[str, tuple[list[float], list[float]]]:
    """(wall, CPU) seconds per call; CPU time too because on a shared, loaded machine the
    wall clock also counts the time other processes held the core."""
    times: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in contenders}
    for fn in contenders.values():
        fn()  # first call apart: nothing here compiles, but caches warm up
    for _ in range(samples):
        for name, fn in contenders.items():
            gc.collect()
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            times[name][0].append(time.perf_counter() - t0)
            times[name][1].append(time.process_time() - c0)
    return times


def run_case(name: str, bars: dict[str, BarSeries], samples: int) -> list[str]:
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
        "core, compiled kernel": compiled,
        "core, Python reference": reference,
        "floor (numba loop)": floor_run,
    }
    if kernel.KERNEL is None:
        del contenders["core, compiled kernel"]
    times = sample(contenders, samples if aligned.n_bars * len(bars) < 500_000 else 3)
    floor_wall, floor_cpu = (statistics.median(t) for t in times["floor (numba loop)"])
    rows = []
    for who, (wall, cpu) in times.items():
        med, cpu_med = statistics.median(wall), statistics.median(cpu)
        rows.append(
            f"{name:<13}{who:<25}{med * 1e3:>10.2f}{min(wall) * 1e3:>9.2f}{max(wall) * 1e3:>9.2f}"
            f"{cpu_med * 1e3:>9.2f}{med / floor_wall:>9.2f}x{cpu_med / floor_cpu:>8.2f}x"
        )
    return rows


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 1M-bar case")
    parser.add_argument("--samples", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"kernel: {'loaded' if kernel.KERNEL is not None else 'MISSING (make install)'}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    head = (
        f"{'case':<13}{'contender':<25}{'median ms':>10}{'min':>9}{'max':>9}{'CPU ms':>9}"
        f"{'vs floor':>10}{'CPU vs':>9}"
    )
    print(head + "\n" + "-" * len(head))
    for name, bars in cases(args.quick):
        for row in run_case(name, bars, args.samples):
            print(row, flush=True)
    print(
        f"target: the compiled core within {TARGET_VS_FLOOR:.0f}x of the floor; wall times are"
        " medians (min, max) of alternating samples, CPU the median process time"
    )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("cost of the kernel technology in a fresh process:")
    for row in fresh_process_costs():
        print(row)


if __name__ == "__main__":
    main()
