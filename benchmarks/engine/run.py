"""Time our engine against backtesting.py, vectorbt and a compiled floor; print one table.

    .venv/bin/python -m benchmarks.engine.run [--data path.csv] [--repeats 5] [--quick]

Every contender runs the same SMA(10)/SMA(20) crossover (see contenders.py). Times are medians
of ``--repeats`` calls after a first call (reported separately: it includes JIT compilation
for numba and vectorbt, and import-time caches for everyone). Peak memory is measured with
tracemalloc in a separate call so it does not slow the timed ones.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from backtesting.engine import BarSeries
from benchmarks.engine import contenders as c
from benchmarks.engine.data import MINUTE_NS, load_csv, synthetic
from benchmarks.engine.floor import floor_function

HERE = Path(__file__).resolve().parent
# GOOG: 2,148 real daily bars (2004-08 to 2013-03), the case the issue names.
DEFAULT_DATA = Path("backtesting/marketdata/demo_data/GOOG.csv.gz")
Row = dict[str, Any]


def measure(fn: Callable[[], float], repeats: int) -> Row:
    t0 = time.perf_counter()
    final = fn()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"first": first, "median": statistics.median(times), "peak": peak, "final": final}


def measure_backtesting_py(series: BarSeries, repeats: int) -> Row | None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bars.npz"
        fields = {f: getattr(series, f) for f in ("open", "high", "low", "close", "volume")}
        np.savez(path, ts=series.timestamps, **fields)
        proc = subprocess.run(
            [sys.executable, "-P", str(HERE / "bt_worker.py"), str(path), str(repeats)],
            cwd=tmp,
            capture_output=True,
            text=True,
        )
    if proc.returncode != 0:
        print(f"  backtesting.py failed: {proc.stderr.strip().splitlines()[-1:]}")
        return None
    out = json.loads(proc.stdout)
    return {**out, "median": statistics.median(out["times"])}


def floor_runner(bars: dict[str, BarSeries]) -> Callable[[], float]:
    _, fn = floor_function()
    open_ = np.vstack([b.open for b in bars.values()])
    close = np.vstack([b.close for b in bars.values()])
    return lambda: float(fn(open_, close, 10, 20, 100_000.0, c.COMMISSION)[-1])


def run_case(name: str, bars: dict[str, BarSeries], args: argparse.Namespace) -> list[Row]:
    n_bars = sum(len(b) for b in bars.values())
    repeats = args.repeats if n_bars <= 300_000 else max(1, args.repeats // 2)
    print(
        f"\n{name}: {len(bars)} instrument(s) x {len(next(iter(bars.values())))} bars", flush=True
    )
    jobs: dict[str, Callable[[], Row | None]] = {
        "ours event-driven": lambda: measure(lambda: c.ours_event(bars), repeats),
        "ours vectorized": lambda: measure(lambda: c.ours_vectorized(bars), repeats),
        f"floor ({floor_function()[0]})": lambda: measure(floor_runner(bars), repeats),
    }
    if c.vectorbt_available():
        jobs["vectorbt"] = lambda: measure(lambda: c.run_vectorbt(bars), repeats)
        jobs["vectorbt + stats()"] = lambda: measure(
            lambda: c.run_vectorbt_with_stats(bars), repeats
        )
    if len(bars) == 1 and n_bars <= args.bt_max_bars:
        series = next(iter(bars.values()))
        jobs["backtesting.py"] = lambda: measure_backtesting_py(series, max(1, repeats // 2))
    rows = []
    for label, job in jobs.items():
        try:
            row = job()
        except Exception as exc:  # a contender failing must not hide the others' numbers
            print(f"  {label:<24} failed: {type(exc).__name__}: {exc}")
            continue
        if row is not None:
            rows.append({"case": name, "who": label, "bars": n_bars, **row})
            print(f"  {label:<24} {row['median']:.4f} s", flush=True)
    return rows


def print_table(rows: list[Row]) -> None:
    head = (
        f"{'case':<13}{'contender':<24}{'median s':>10}{'bars/s':>13}{'first s':>9}"
        f"{'peak MB':>9}{'vs floor':>9}{'vs vbt':>8}{'vs bt.py':>9}{'final equity':>15}"
    )
    print("\n" + head + "\n" + "-" * len(head))
    for case in dict.fromkeys(r["case"] for r in rows):
        group = [r for r in rows if r["case"] == case]
        ref = {
            k: next((r["median"] for r in group if r["who"].startswith(k)), None)
            for k in ("floor", "vectorbt", "backtesting.py")
        }
        for r in group:
            ratios = "".join(
                f"{(r['median'] / ref[k]):>{w}.2f}x" if ref[k] else f"{'-':>{w + 1}}"
                for k, w in (("floor", 8), ("vectorbt", 7), ("backtesting.py", 8))
            )
            print(
                f"{case:<13}{r['who']:<24}{r['median']:>10.4f}{r['bars'] / r['median']:>13,.0f}"
                f"{r['first']:>9.3f}{r['peak'] / 2**20:>9.1f}{ratios}{r['final']:>15,.2f}"
            )
    print("ratios are this contender's median time / the other's (< 1 means faster)")


def cases(args: argparse.Namespace) -> list[tuple[str, dict[str, BarSeries]]]:
    out = [("daily-2148", {"SYN": synthetic(2148)})]
    if args.data and args.data.exists():
        real = load_csv(args.data, symbol=args.data.name.split(".")[0])
        out.append((f"daily-{real.symbol}", {real.symbol: real}))
    out.append(("100k-min", {"SYN": synthetic(100_000, seed=1, step_ns=MINUTE_NS)}))
    if not args.quick:
        out.append(("1M-min", {"SYN": synthetic(1_000_000, seed=2, step_ns=MINUTE_NS)}))
    out.append(
        (
            "portfolio100",
            {f"S{k:03d}": synthetic(2148, seed=100 + k, symbol=f"S{k:03d}") for k in range(100)},
        )
    )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help="real daily OHLCV CSV[.gz] run next to the synthetic 2,148 bars",
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="skip the 1M-bar case")
    parser.add_argument(
        "--bt-max-bars", type=int, default=1_000_000, help="largest case for backtesting.py"
    )
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    for name, bars in cases(args):
        rows.extend(run_case(name, bars, args))
    print_table(rows)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
