"""Time our engine against backtesting.py, vectorbt and a compiled floor; print one table.

    .venv/bin/python -m benchmarks.engine.run [--rounds 3] [--calls 3] [--quick]
        [--only ours-event,backtesting.py] [--data GOOG.csv.gz] [--json out.json]

Every contender runs the same strategy to the same final equity (contenders.py; a mismatch
fails the run). Each sample is taken in a fresh process (sample.py / bt_worker.py): a warm-up
call on the first bars, then ``--calls`` timed calls each after ``gc.collect()``. The
contenders take turns round by round, in a rotating order, so a change in the machine's load
hits them all alike. The table shows the median over every sample with its spread (min-max and
interquartile range), and ratios against the baselines measured in this same run; the load
average is printed before and after each case.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backtesting.engine import BarSeries
from benchmarks.engine.contenders import vectorbt_available
from benchmarks.engine.data import MINUTE_NS, load_csv, save_bars, synthetic
from benchmarks.engine.floor import floor_function

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# GOOG: 2,148 real daily bars (2004-08 to 2013-03).
DEFAULT_DATA = ROOT / "backtesting/marketdata/demo_data/GOOG.csv.gz"
# Contender ids as sample.py knows them, with the label the table shows.
LABELS = {
    "ours-event": "ours event-driven",
    "ours-vectorized": "ours vectorized",
    "backtesting.py": "backtesting.py",
    "vectorbt": "vectorbt",
    "vectorbt-stats": "vectorbt + stats()",
    "floor": "floor",
}
# Baselines the ratios are taken against (columns of the table), with their column heads.
BASELINES = {
    "floor": "vs floor",
    "vectorbt": "vs vbt",
    "vectorbt-stats": "vs vbt+stats",
    "backtesting.py": "vs bt.py",
}
# The targets: (contender, baseline, the baseline's time / the contender's at least).
TARGETS = (
    ("ours-event", "backtesting.py", 10.0),
    ("ours-vectorized", "vectorbt-stats", 3.0),
)
RELATIVE_TOLERANCE = 1e-9  # final equities: the same trades, summed in a different order


@dataclass
class Samples:
    who: str
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # process CPU time of the same calls
    warmups: list[float] = field(default_factory=list)
    finals: list[float] = field(default_factory=list)
    rss: int = 0
    failure: str = ""

    def add(self, out: dict[str, Any]) -> None:
        self.times.extend(out["times"])
        self.cpu.extend(out["cpu"])
        self.warmups.append(out["warmup"])
        self.finals.append(out["final"])
        self.rss = max(self.rss, out["rss"])

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu)

    def spread(self) -> tuple[float, float, float, float]:
        """min, first quartile, third quartile, max."""
        ts = sorted(self.times)
        q1, _, q3 = statistics.quantiles(ts, n=4) if len(ts) > 1 else (ts[0], 0, ts[0])
        return ts[0], q1, q3, ts[-1]


@dataclass
class Case:
    name: str
    bars: dict[str, BarSeries]
    results: dict[str, Samples] = field(default_factory=dict)
    load_before: float = 0.0
    load_after: float = 0.0

    @property
    def n_bars(self) -> int:
        return sum(len(b) for b in self.bars.values())


def sample_command(who: str, path: Path, calls: int) -> tuple[list[str], Path]:
    """The command (and its working directory) that takes samples of one contender."""
    if who == "backtesting.py":
        return [
            sys.executable,
            "-P",
            str(HERE / "bt_worker.py"),
            str(path),
            str(calls),
        ], path.parent
    return [sys.executable, "-m", "benchmarks.engine.sample", who, str(path), str(calls)], ROOT


def take_samples(who: str, path: Path, calls: int) -> dict[str, Any]:
    cmd, cwd = sample_command(who, path, calls)
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"exit {proc.returncode}: {last}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def run_case(case: Case, contenders: list[str], rounds: int, calls: int, tmp: Path) -> None:
    path = tmp / f"{case.name}.npz"
    save_bars(path, case.bars)
    n_sym = len(case.bars)
    print(
        f"\n{case.name}: {n_sym} instrument(s) x {len(next(iter(case.bars.values()))):,} bars, "
        f"{rounds} rounds x {calls} call(s) per contender, load {_load():.2f}",
        flush=True,
    )
    case.load_before = _load()
    case.results = {who: Samples(who) for who in contenders}
    for r in range(rounds):
        shift = r % len(contenders)  # rotate who goes first, so none always follows another
        for who in contenders[shift:] + contenders[:shift]:
            samples = case.results[who]
            if samples.failure:
                continue
            try:
                samples.add(take_samples(who, path, calls))
            except Exception as exc:  # one contender failing must not hide the others
                samples.failure = f"{type(exc).__name__}: {exc}"
                print(f"  {LABELS[who]:<20} failed: {samples.failure}", flush=True)
        done = [s for s in case.results.values() if s.times]
        print(
            f"  round {r + 1}/{rounds}: "
            + ", ".join(f"{LABELS[s.who]} {s.median:.4f}s" for s in done),
            flush=True,
        )
    case.load_after = _load()


def check_finals(case: Case) -> list[str]:
    """Every sample of every contender must end on the same final equity."""
    finals = [(s.who, f) for s in case.results.values() for f in s.finals]
    if not finals:
        return []
    ref_who, ref = finals[0]
    return [
        f"{case.name}: {LABELS[who]} ended on {f:,.6f}, {LABELS[ref_who]} on {ref:,.6f}"
        for who, f in finals
        if abs(f - ref) > RELATIVE_TOLERANCE * abs(ref)
    ]


def print_table(cases: list[Case]) -> None:
    head = (
        f"| {'case':<13}| {'contender':<19}| {'median s':>9} | {'min-max s':>17} "
        f"| {'IQR s':>17} | {'CPU s':>9} | {'n':>2} | {'bars/s':>11} | {'RSS MB':>6} "
        + "".join(f"| {head:>12} " for head in BASELINES.values())
        + f"| {'final equity':>14} |"
    )
    print("\n" + head)
    print("|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|")
    for case in cases:
        ref = {b: case.results[b].median for b in BASELINES if _has(case, b)}
        for who, s in case.results.items():
            if not s.times:
                continue
            lo, q1, q3, hi = s.spread()
            ratios = "".join(
                f"| {_ratio(ref[b], s.median):>12} " if b in ref else f"| {'-':>12} "
                for b in BASELINES
            )
            print(
                f"| {case.name:<13}| {LABELS[who]:<19}| {s.median:>9.4f} "
                f"| {lo:>7.4f} - {hi:>7.4f} | {q1:>7.4f} - {q3:>7.4f} | {s.median_cpu:>9.4f} "
                f"| {len(s.times):>2} "
                f"| {case.n_bars / s.median:>11,.0f} | {s.rss / 2**20:>6.0f} "
                f"{ratios}| {s.finals[-1]:>14,.2f} |"
            )
    print(
        "vs X = X's median time / this row's (above 1: this row is faster by that factor); "
        "CPU s = median process CPU time of the same calls (less sensitive to other load); "
        "n = samples; RSS = the sampling process's peak, imports included."
    )
    print("load average (1 min) before -> after each case: " + ", ".join(
        f"{c.name} {c.load_before:.2f} -> {c.load_after:.2f}" for c in cases
    ))  # fmt: skip


def print_targets(cases: list[Case]) -> None:
    print("\ntargets (baseline median / contender median, same run; by CPU time in brackets):")
    for who, base, goal in TARGETS:
        for case in cases:
            if _has(case, who) and _has(case, base):
                mine, theirs = case.results[who], case.results[base]
                factor = theirs.median / mine.median
                by_cpu = theirs.median_cpu / mine.median_cpu
                verdict = "met" if factor >= goal else "NOT met"
                print(
                    f"  {case.name:<13} {LABELS[who]} vs {LABELS[base]}: {factor:6.2f}x "
                    f"({by_cpu:.2f}x) (target >= {goal:g}x) {verdict}"
                )


def _has(case: Case, who: str) -> bool:
    return who in case.results and bool(case.results[who].times)


def _ratio(baseline: float, mine: float) -> str:
    return f"{baseline / mine:.2f}x"


def _load() -> float:
    return os.getloadavg()[0]


def cases(args: argparse.Namespace) -> list[tuple[str, Callable[[], dict[str, BarSeries]]]]:
    out: list[tuple[str, Callable[[], dict[str, BarSeries]]]] = []
    if args.data.exists():
        symbol = args.data.name.split(".")[0]
        out.append((f"daily-{symbol}", lambda: {symbol: load_csv(args.data, symbol=symbol)}))
    else:
        print(f"{args.data} is missing: the daily case uses 2,148 synthetic bars")
        out.append(("daily-2148", lambda: {"SYN": synthetic(2148)}))
    out.append(("100k-min", lambda: {"SYN": synthetic(100_000, seed=1, step_ns=MINUTE_NS)}))
    if not args.quick:
        out.append(("1M-min", lambda: {"SYN": synthetic(1_000_000, seed=2, step_ns=MINUTE_NS)}))
    out.append(
        (
            "portfolio100",
            lambda: {
                f"S{k:03d}": synthetic(2148, seed=100 + k, symbol=f"S{k:03d}") for k in range(100)
            },
        )
    )
    return out


def contenders_for(bars: dict[str, BarSeries], args: argparse.Namespace) -> list[str]:
    chosen = [w for w in LABELS if not args.only or w in args.only]
    if len(bars) > 1:  # backtesting.py trades one instrument
        chosen = [w for w in chosen if w != "backtesting.py"]
    if not vectorbt_available():
        chosen = [w for w in chosen if not w.startswith("vectorbt")]
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="real daily OHLCV CSV")
    parser.add_argument("--rounds", type=int, default=3, help="fresh processes per contender")
    parser.add_argument("--calls", type=int, default=3, help="timed calls per process")
    parser.add_argument("--quick", action="store_true", help="skip the 1M-bar case")
    parser.add_argument(
        "--only", type=lambda s: s.split(","), default=[], help=f"comma-separated: {list(LABELS)}"
    )
    parser.add_argument("--cases", type=lambda s: s.split(","), default=[], help="case names")
    parser.add_argument("--json", type=Path, help="also write every sample as JSON here")
    args = parser.parse_args(argv)
    unknown = [w for w in args.only if w not in LABELS]
    if unknown:
        parser.error(f"unknown contender(s) {unknown}; known: {list(LABELS)}")
    print(
        f"engine benchmark: {os.cpu_count()} CPUs, load average {_fmt_load()}, "
        f"floor = {floor_function()[0]}, python {sys.version.split()[0]}",
        flush=True,
    )
    done: list[Case] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in cases(args):
            if args.cases and name not in args.cases:
                continue
            case = Case(name, make())
            # The largest case: fewer rounds and one call each (backtesting.py takes ~a minute).
            big = case.n_bars > 300_000
            rounds, calls = (max(3, args.rounds // 2), 1) if big else (args.rounds, args.calls)
            run_case(case, contenders_for(case.bars, args), rounds, calls, Path(tmp))
            done.append(case)
    print_table(done)
    print_targets(done)
    print(f"\nload average now {_fmt_load()}; took {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        rows = [
            {"case": c.name, "bars": c.n_bars, **vars(s)} for c in done for s in c.results.values()
        ]
        args.json.write_text(json.dumps(rows, indent=2))
    failures = [s.failure for c in done for s in c.results.values() if s.failure]
    mismatches = [m for c in done for m in check_finals(c)]
    for problem in mismatches:
        print(f"FINAL EQUITY MISMATCH: {problem}")
    if mismatches or failures:
        print(f"{len(mismatches)} mismatch(es), {len(failures)} failed contender(s)")
        return 1
    print("every row ended on the same final equity")
    return 0


def _fmt_load() -> str:
    return " / ".join(f"{v:.2f}" for v in os.getloadavg()) + " (1/5/15 min)"


if __name__ == "__main__":
    sys.exit(main())
