"""Parameter sweeps through the platform (API -> optimizations queue -> rows) against in-process
sweeps measured in the same run: backtesting.py's optimize, vectorbt's broadcast, a plain loop
over our engine and a compiled running-sum loop (the floor).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tp_x REDIS_URL=redis://127.0.0.1:6379/7 \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/8 \
    .venv/bin/python -m benchmarks.research.bench_sweep [grid] [random] [--samples 3]
        [--random-samples 1] [--random-combinations 2000]

The two measurements of issue 13 ("Speed"):

- grid: SMA crossover, fast 5..50 step 5 x slow 20..200 step 20, fast < slow (90
  combinations), on the last ten years (2,520 bars) of the demo's real IBM daily bars.
- random: 2,000 seeded random combinations (fast 2..100, slow 10..400, fast < slow, seed 1:
  the platform's own random plan) over 100,000 synthetic one-minute bars.

What is swept: the SMA crossover written in the vectorized style
(benchmarks/research/sma_crossover_signals.py: one target per bar, run by the engine's array
path), which makes exactly the trades of the event-driven example
strategies/examples/sma_crossover.py (tests/optimization/test_bench_strategy.py; here every
combination of the grid, and a sample of the random one, is run both ways and the final
equities asserted equal). An event-driven next() per bar over 100,000 bars is a different,
slower piece of work; the table says which rows run which.

The platform rows time POST /api/v1/optimizations/ (in-process APIClient) until the last result
row is stored (the last chunk's finish stamp, written in the transaction that stores its rows;
the benchmark polls lightly so it takes no CPU from the workers, and starts each sample once
the previous sweep has ended, its best-row backtest included, and the workers are idle), with
one and then two real Celery worker processes on the `optimizations` queue, and report the
workers' compute (the chunks' own claimed-to-finished times) apart from the API and the
queueing. Everything runs against a database of its own, <DATABASE_URL's name>_bench, created
at the start and dropped at the end. Each row runs `--samples` times (BENCH_SAMPLES; the random
measurement BENCH_RANDOM_SAMPLES) with garbage collection between samples; the table prints the
median, the spread (max - min), the combinations per second and the ratios to the baselines.
The rows that run our engine must store the same final equity for every combination (asserted);
the other engines' agreement is printed. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
_BASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tp_bench")
BENCH_DB_URL = f"{_BASE_URL.rstrip('/')}_bench"
os.environ["DATABASE_URL"] = BENCH_DB_URL
os.environ.setdefault("DJANGO_ENV", "test")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradeplatform.settings")
os.environ.setdefault("DB_POOL_SIZE", "2")
os.environ["RATELIMIT_ENABLE"] = "false"  # the benchmark is the one client it would throttle
# Fairness (default 1) runs one user's chunks one at a time: lifted to measure two workers.
os.environ["BACKTEST_USER_MAX_RUNNING"] = "0"


def _database(action: str) -> None:
    import psycopg
    from psycopg import sql

    base, _, name = BENCH_DB_URL.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if action == "drop":
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
            )
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        if action == "create":
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


_database("create")

import logging  # noqa: E402
import warnings  # noqa: E402

import django  # noqa: E402

django.setup()
logging.disable(logging.WARNING)  # the API's INFO and "slow request" lines would bury the table
warnings.filterwarnings("ignore", message="No directory at")  # no collected static files here

import numpy as np  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections, transaction  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from backtesting.engine import BarSeries  # noqa: E402
from backtesting.optimization.models import (  # noqa: E402
    Optimization,
    OptimizationChunk,
    OptimizationResult,
)
from benchmarks.engine.data import MINUTE_NS, load_csv, synthetic  # noqa: E402
from benchmarks.research import baselines  # noqa: E402

GRID = [(f, s) for f in range(5, 55, 5) for s in range(20, 220, 20) if f < s]
assert len(GRID) == 90, len(GRID)
TEN_YEARS = 2520
# After a sweep's end: the worker's sandbox forks its next child and warms it (~20 ms of CPU).
SETTLE_SECONDS = 0.1
EVENT_DRIVEN_SAMPLE = 20
SWEPT = (
    "platform and signals rows sweep the SMA crossover written with signals() "
    "(sma_crossover_signals.py), the next() row the event-driven example: same trades, asserted"
)
Row = dict[str, Any]


# ----------------------------------------------------------------------------- set-up


def load_bars(symbol: str, timeframe: str, series: BarSeries) -> None:
    from backtesting.marketdata.models import Instrument
    from backtesting.marketdata.services import series_version_bump
    from backtesting.marketdata.writes import bars_upsert

    instrument, _ = Instrument.objects.get_or_create(symbol=symbol, defaults={"timezone": "UTC"})
    with transaction.atomic():
        counts = bars_upsert(
            instrument_id=instrument.pk,
            timeframe=timeframe,
            bars=series,
            batch_size=5000,
            progress=None,
        )
        series_version_bump(instrument, timeframe, changed=counts.changed)


def stored_bars(symbol: str, timeframe: str, series: BarSeries) -> dict[str, BarSeries]:
    """The bars as a worker loads them (every baseline computes on exactly these)."""
    from backtesting.bars import bars_for_backtest

    return bars_for_backtest(
        symbols=[symbol], timeframe=timeframe, start=_dt(series, 0), end=_dt(series, -1)
    ).bars


def _dt(series: BarSeries, i: int) -> datetime:
    return datetime.fromtimestamp(int(series.timestamps[i]) / 1e9, tz=UTC)


class Workers:
    """Celery workers (concurrency 1 each) on the optimizations queue, as tests/integration
    starts them; each leads its own process group so its pool and sandbox children stop too."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="tp-bench-workers-"))
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        log = self.tmp / f"worker-{len(self.processes)}.log"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PROMETHEUS_MULTIPROC_DIR": str(self.tmp)}
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tradeplatform",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            "1",
            "--loglevel",
            "WARNING",
            "--queues",
            "optimizations",
            "--hostname",
            f"bench-{uuid.uuid4().hex[:8]}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        with log.open("wb") as out:
            self.processes.append(
                subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + 60
        while "ready." not in log.read_text(errors="replace"):
            if self.processes[-1].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, 15)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait(timeout=10)
        self.processes.clear()


# ----------------------------------------------------------------------------- the platform


class Platform:
    def __init__(self, client: APIClient, strategy_id: int) -> None:
        self.client, self.strategy_id = client, strategy_id

    def sweep(self, symbol: str, timeframe: str, series: BarSeries, space: dict[str, Any]) -> Row:
        """One sweep, API call to last row stored; the chunks' times read from their rows."""
        body = {
            "strategy": self.strategy_id,
            "instruments": [symbol],
            "timeframe": timeframe,
            "start": _dt(series, 0).isoformat(),
            "end": _dt(series, -1).isoformat(),
            "space": space,
            "constraints": ["fast < slow"],
            "objective": "sharpe",
            "settings": baselines.SETTINGS,
        }
        started_wall = datetime.now(UTC)
        started = time.perf_counter()
        response = self.client.post("/api/v1/optimizations/", body, format="json")
        accepted = time.perf_counter() - started
        assert response.status_code == 202, response.content
        pk, total = int(response.json()["id"]), int(response.json()["total"])
        rows = OptimizationResult.objects.filter(optimization_id=pk)
        # The end is read from the chunks' own finish stamps (each written in the transaction
        # that stores its rows), not from when this loop noticed: so it can poll lightly. A
        # COUNT every 5 ms took a fifth of a core from the two workers on a two-core machine.
        while rows.count() < total:
            time.sleep(min(0.05, max(0.02, (time.perf_counter() - started) / 50)))
        chunks = list(OptimizationChunk.objects.filter(optimization_id=pk))
        while any(c.finished_at is None for c in chunks):  # the chunk's finish follows its rows
            time.sleep(0.02)
            chunks = list(OptimizationChunk.objects.filter(optimization_id=pk))
        last = max(c.finished_at for c in chunks if c.finished_at is not None)
        elapsed = (last - started_wall).total_seconds()
        # The sweep's own end (best row, deflated Sharpe: a backtest of the best combination)
        # runs on a worker after its last row: the next sample starts once it is done and the
        # workers are idle again, so no sample shares the cores with the previous one's end.
        while Optimization.objects.filter(pk=pk, finished_at__isnull=True).exists():
            time.sleep(0.02)
        time.sleep(SETTLE_SECONDS)
        assert all(c.status == "succeeded" and c.attempts == 1 for c in chunks), [
            (c.status, c.attempts, c.error_message) for c in chunks
        ]
        result = {r.index: r for r in rows}
        assert all(r.status == "ok" for r in result.values()), "a combination failed"
        pairs = [
            (int(result[i].parameters["fast"]), int(result[i].parameters["slow"]))
            for i in sorted(result)
        ]
        equity = [float(result[i].metrics["equity_final"]) for i in sorted(result)]
        spans = [(c.started_at, c.finished_at) for c in chunks]
        claimed = [(start, end) for start, end in spans if start is not None and end is not None]
        assert len(claimed) == len(chunks), "a finished chunk without its times"
        return {
            "time": elapsed,
            "api": accepted,
            "compute_sum": sum((end - start).total_seconds() for start, end in claimed),
            "compute_span": (
                max(end for _, end in claimed) - min(start for start, _ in claimed)
            ).total_seconds(),
            "chunks": len(chunks),
            "timeline": _timeline(claimed),
            "pairs": pairs,
            "equity": equity,
        }


def _timeline(spans: list[tuple[datetime, datetime]]) -> str:
    """Each chunk's claim and end in ms from the first claim, in claim order: the gaps show a
    worker's time between its chunks (queueing), the lengths each chunk's own time."""
    first = min(start for start, _ in spans)
    return ", ".join(
        f"{(start - first).total_seconds() * 1000:.0f}-{(end - first).total_seconds() * 1000:.0f}"
        for start, end in sorted(spans)
    )


def sample(func: Callable[[], Any], samples: int) -> tuple[list[float], Any]:
    times, out = [], None
    for _ in range(samples):
        gc.collect()
        started = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - started)
    return times, out


def platform_rows(
    platform: Platform,
    workers: Workers,
    case: tuple[str, str, BarSeries, dict[str, Any]],
    samples: int,
    warm: dict[str, Any],
) -> tuple[list[Row], list[tuple[int, int]]]:
    """One then two workers; returns the rows and the combinations the platform planned."""
    out, pairs, reference = [], [], None
    for n in (1, 2):
        workers.start()
        platform.sweep(case[0], case[1], case[2], warm)  # worker imports, caches, sandbox pages
        runs = []
        for _ in range(samples):
            gc.collect()
            runs.append(platform.sweep(*case))
        pairs = runs[0]["pairs"]
        reference = reference or runs[0]["equity"]
        for run in runs:
            assert run["pairs"] == pairs and run["equity"] == reference, "sweeps differ"
        out.append(
            {
                "who": f"platform, {n} worker{'s' if n > 1 else ''} (API to last row)",
                "times": [r["time"] for r in runs],
                "equity": reference,
                "api": statistics.median(r["api"] for r in runs),
                "compute_sum": statistics.median(r["compute_sum"] for r in runs),
                "compute_span": statistics.median(r["compute_span"] for r in runs),
                "chunks": runs[0]["chunks"],
                "idle": statistics.median(n * r["compute_span"] - r["compute_sum"] for r in runs),
                "timeline": sorted(runs, key=lambda r: r["compute_span"])[len(runs) // 2][
                    "timeline"
                ],
            }
        )
    return out, pairs


# ----------------------------------------------------------------------------- the table


def equity_agreement(equity: list[float], reference: list[float]) -> str:
    a, b = np.asarray(equity), np.asarray(reference)
    off = np.abs(a / b - 1.0) > 1e-9
    if not off.any():
        return "same"
    return f"{int(off.sum())} differ (max {np.max(np.abs(a / b - 1.0)):.2%})"


def print_table(title: str, n: int, rows: list[Row], refs: list[str]) -> dict[str, float]:
    print(f"\n{title}")
    head = f"{'row':<44}{'median s':>10}{'spread s':>10}{'comb/s':>9}"
    head += "".join(f"{'x ' + r[:10]:>14}" for r in refs) + "  final equity vs our engine"
    print(head + "\n" + "-" * len(head))
    medians = {r["who"]: statistics.median(r["times"]) for r in rows}
    ref_medians = {k: next((v for w, v in medians.items() if w.startswith(k)), None) for k in refs}
    ours = next(r["equity"] for r in rows if r["who"].startswith("our engine, signals"))
    for r in rows:
        m = medians[r["who"]]
        ratios = "".join(
            f"{(ref_medians[k] / m):>13.3g}x" if ref_medians[k] else f"{'-':>14}" for k in refs
        )
        print(
            f"{r['who']:<44}{m:>10.3f}{max(r['times']) - min(r['times']):>10.3f}"
            f"{n / m:>9,.0f}{ratios}  {equity_agreement(r['equity'], ours)}"
        )
    print("x <baseline>: the baseline's median time / this row's (> 1: this row is faster)")
    for r in rows:
        if "compute_sum" in r:
            print(
                f"  {r['who']}: API call {r['api'] * 1000:.0f} ms; workers' compute "
                f"{r['compute_span']:.3f} s from first claim to last chunk end "
                f"({n / r['compute_span']:,.0f} comb/s), {r['compute_sum']:.3f} s summed over "
                f"{r['chunks']} chunks; the rest of the total is queueing and polling"
            )
            print(
                f"    inside that span the workers were outside a chunk for "
                f"{r['idle'] * 1000:.0f} ms "
                f"in all (between their chunks, or before the first / after the last); chunks "
                f"(ms from first claim, median sample): {r['timeline']}"
            )
    return medians


def run_row(rows: list[Row], who: str, func: Callable[[], list[float]], samples: int) -> None:
    times, equity = sample(func, samples)
    rows.append({"who": who, "times": times, "equity": equity})
    print(f"  {who}: median {statistics.median(times):.3f} s", flush=True)


def assert_our_engine_agrees(rows: list[Row]) -> None:
    """Rows that run our engine do the same work: identical final equity, combination by one."""
    ours = [r for r in rows if r["who"].startswith(("our engine", "platform"))]
    for r in ours[1:]:
        assert r["equity"] == ours[0]["equity"], f"{r['who']} computed different results"


def assert_others_close(rows: list[Row], n: int) -> None:
    """vectorbt and the floor run the same logic with running-sum SMAs: where the two SMAs tie
    exactly on a bar, float rounding decides the cross, so a few combinations may differ; at
    most 2% of them (printed above), and vectorbt and the floor agree with each other."""
    ours = np.asarray(next(r["equity"] for r in rows if r["who"].startswith("our engine")))
    for r in rows:
        if r["who"].startswith(("vectorbt", "compiled")):
            off = np.abs(np.asarray(r["equity"]) / ours - 1.0) > 1e-9
            assert off.sum() <= max(1, n // 50), f"{r['who']}: {off.sum()} combinations differ"


def load_line(cores: int) -> str:
    one, five, fifteen = os.getloadavg()
    return f"machine: {cores} cores, load average {one:.2f} / {five:.2f} / {fifteen:.2f}"


# ----------------------------------------------------------------------------- measurements


def measure_grid(platform: Platform, workers: Workers, samples: int) -> None:
    real = load_csv(ROOT / "backtesting/marketdata/demo_data/IBM.csv.gz", symbol="IBM")
    cut = slice(len(real) - TEN_YEARS, None)
    series = BarSeries(
        "IBM",
        *(getattr(real, f)[cut] for f in ("timestamps", "open", "high", "low", "close", "volume")),
    )
    load_bars("IBM", "1d", series)
    bars = stored_bars("IBM", "1d", series)
    space = {
        "kind": "grid",
        "parameters": {
            "fast": {"min": 5, "max": 50, "step": 5},
            "slow": {"min": 20, "max": 200, "step": 20},
        },
    }
    print(
        f"\n== grid: {len(GRID)} combinations x {TEN_YEARS:,} daily bars (IBM, "
        f"{_dt(series, 0):%Y-%m-%d}..{_dt(series, -1):%Y-%m-%d}), {samples} samples; "
        f"{load_line(os.cpu_count() or 0)}",
        flush=True,
    )
    warm = {
        **space,
        "parameters": {
            "fast": {"min": 5, "max": 5, "step": 1},
            "slow": {"min": 20, "max": 20, "step": 1},
        },
    }
    rows, pairs = platform_rows(platform, workers, ("IBM", "1d", series, space), samples, warm)
    workers.stop()
    assert sorted(pairs) == sorted(GRID) and len(pairs) == 90, "the platform's grid differs"
    for r in rows:
        print(f"  {r['who']}: median {statistics.median(r['times']):.3f} s", flush=True)
    signals, example = baselines.signals_strategy(), baselines.example_strategy()
    run_row(
        rows,
        "our engine, signals loop, 1 process",
        lambda: baselines.ours_loop(bars, pairs, signals),
        samples,
    )
    run_row(
        rows,
        "our engine, signals loop, 2 processes",
        lambda: baselines.ours_loop_processes(bars, pairs, 2, signals),
        samples,
    )
    run_row(
        rows,
        "our engine, next() loop (example), 1 proc",
        lambda: baselines.ours_loop(bars, pairs, example),
        samples,
    )
    bt = baselines.backtesting_py_optimize(bars, pairs, samples)
    if isinstance(bt, str):
        print(f"  backtesting.py skipped: {bt}")
    else:
        rows.append(
            {"who": f"backtesting.py optimize ({bt[1]} processes)", "times": bt[0], "equity": bt[2]}
        )
        print(f"  {rows[-1]['who']}: median {statistics.median(bt[0]):.3f} s", flush=True)
    _vectorbt_and_floor(rows, bars, pairs, samples, chunk=0)
    assert_our_engine_agrees(rows)
    assert_others_close(rows, len(pairs))
    chunk_profile(bars, pairs, samples)
    medians = print_table(
        f"grid, {len(pairs)} combinations; {SWEPT}; {load_line(os.cpu_count() or 0)}",
        len(pairs),
        rows,
        ["vectorbt", "backtesting.py", "our engine, signals loop, 1", "compiled"],
    )
    two = next(r for r in rows if r["who"].startswith("platform, 2"))
    vbt = next((m for w, m in medians.items() if w.startswith("vectorbt")), None)
    total = statistics.median(two["times"])
    print(
        f"target: under 0.6 s through the platform with two workers: {total:.3f} s -> "
        f"{'met' if total < 0.6 else 'NOT met'}"
    )
    if vbt is None:
        print("target: workers' compute faster than vectorbt's broadcast: no vectorbt row")
    else:
        span, summed = two["compute_span"], two["compute_sum"]
        print(
            f"target: workers' compute (two workers, first claim to last chunk end) faster "
            f"than vectorbt's in-process broadcast: {span:.3f} s vs {vbt:.3f} s -> "
            f"{'met' if span < vbt else 'NOT met'} (summed chunk time {summed:.3f} s)"
        )


def chunk_profile(bars: dict[str, BarSeries], pairs: list[tuple[int, int]], samples: int) -> None:
    """Where one chunk's time goes (with the latest sweep's inputs), its parts timed apart here:
    loading the bars, the sandbox child with one combination (start-up) and with a full chunk
    (the difference is the per-combination cost in the child), the child's own loop run here
    without a child, and the rows' insert."""
    from backtesting import sandbox
    from backtesting.bars import bars_for_backtest
    from backtesting.optimization.finish import sandbox_limits
    from backtesting.optimization.models import Optimization
    from backtesting.sandbox import batch_runner
    from backtesting.sandbox.batch import parameter_sets_resolve
    from strategies.paramspec import ParameterSpace

    optimization = Optimization.objects.select_related("strategy_version").order_by("-pk").first()
    assert optimization is not None
    version = optimization.strategy_version
    declared = ParameterSpace.from_dicts(version.parameters)
    spec = optimization.spec_dict()
    sets = [{**optimization.parameters, "fast": f, "slow": s} for f, s in pairs]
    chunk = sets[: optimization.chunk_size]
    series = next(iter(bars.values()))

    def load() -> Any:
        return bars_for_backtest(
            symbols=[series.symbol],
            timeframe=optimization.timeframe,
            start=_dt(series, 0),
            end=_dt(series, -1),
        )

    def child(n: int) -> Any:
        return sandbox.run_strategy_batch_in_sandbox(
            version.code, spec, bars, chunk[:n], declared, limits=sandbox_limits()
        )

    def here() -> Any:
        columns = {
            s: {
                name: getattr(b, name)
                for name in ("timestamps", "open", "high", "low", "close", "volume")
            }
            for s, b in bars.items()
        }
        header = {
            "code": version.code,
            "spec": spec,
            "parameter_sets": parameter_sets_resolve(declared, chunk),
            "limits": {**sandbox_limits().to_dict(), "item_cpu_seconds": 10**9},
        }
        return batch_runner.run_batch(header, columns, lambda fraction: None)

    base = 10**6

    def write() -> None:
        nonlocal base
        rows = [
            OptimizationResult(
                optimization=optimization,
                index=base + k,
                parameters=p,
                status="ok",
                objective=1.0,
                n_trades=1,
                metrics={"x": 1.0},
            )
            for k, p in enumerate(chunk)
        ]
        base += len(chunk)
        OptimizationResult.objects.bulk_create(rows, ignore_conflicts=True)

    n = len(chunk)
    parts = {
        name: statistics.median(sample(func, samples)[0])
        for name, func in (
            ("load bars (bars_for_backtest)", load),
            ("sandbox child, 1 combination", lambda: child(1)),
            (f"sandbox child, {n} combinations", lambda: child(n)),
            (f"the child's loop here (no child), {n}", here),
            (f"insert {n} result rows", write),
        )
    }
    one, full = parts["sandbox child, 1 combination"], parts[f"sandbox child, {n} combinations"]
    per, here_per = (full - one) / (n - 1), parts[f"the child's loop here (no child), {n}"] / n
    print(f"\none chunk of {n} combinations, its parts timed apart (medians of {samples}):")
    for name, value in parts.items():
        print(f"  {name:<40}{value * 1000:>9.1f} ms")
    print(
        f"  -> child start-up + first combination ~{(one - per) * 1000:.0f} ms + "
        f"{per * 1000:.1f} ms per combination in the child, against "
        f"{here_per * 1000:.1f} ms per combination in this process"
    )


def _vectorbt_and_floor(
    rows: list[Row],
    bars: dict[str, BarSeries],
    pairs: list[tuple[int, int]],
    samples: int,
    chunk: int,
) -> None:
    why = baselines.vectorbt_available()
    if why:
        print(f"  vectorbt skipped: {why}")
    else:
        started = time.perf_counter()
        baselines.vectorbt_sweep(bars, pairs[:2])  # numba compiles vectorbt's kernels
        print(
            f"  vectorbt first call (JIT, not timed below): {time.perf_counter() - started:.1f} s"
        )
        label = f"vectorbt, chunks of {chunk}" if chunk else "vectorbt, one broadcast"
        run_row(
            rows,
            f"{label} (1 process)",
            lambda: baselines.vectorbt_sweep(bars, pairs, chunk),
            samples,
        )
    why = baselines.floor_available()
    if why:
        print(f"  compiled floor skipped: {why}")
    else:
        floor = baselines.floor_sweep_function()
        floor(bars, pairs[:1])  # compile
        run_row(
            rows, "compiled running-sum loop (numba, 1 proc)", lambda: floor(bars, pairs), samples
        )


def event_driven_agrees(
    bars: dict[str, BarSeries], pairs: list[tuple[int, int]], equity: list[float], size: int
) -> None:
    """The event-driven example on `size` evenly spread combinations ends where the sweep did
    (the whole random set would take minutes: next() runs once per bar)."""
    picked = sorted(set(np.linspace(0, len(pairs) - 1, size).astype(int).tolist()))
    started = time.perf_counter()
    example = baselines.example_strategy()
    expected = baselines.ours_loop(bars, [pairs[k] for k in picked], example)
    assert expected == [equity[k] for k in picked], "the vectorized sweep differs from next()"
    print(
        f"  event-driven example on {len(picked)} of the combinations: same final equity "
        f"({(time.perf_counter() - started) / len(picked) * 1000:.0f} ms per combination)",
        flush=True,
    )


def measure_random(platform: Platform, workers: Workers, samples: int, combinations: int) -> None:
    series = synthetic(100_000, seed=1, symbol="MIN", step_ns=MINUTE_NS)
    load_bars("MIN", "1m", series)
    bars = stored_bars("MIN", "1m", series)
    space = {
        "kind": "random",
        "samples": combinations,
        "seed": 1,
        "parameters": {
            "fast": {"min": 2, "max": 100, "step": 1},
            "slow": {"min": 10, "max": 400, "step": 1},
        },
    }
    print(
        f"\n== random: {combinations:,} combinations (seed 1) x 100,000 one-minute bars, "
        f"{samples} sample(s); {load_line(os.cpu_count() or 0)}",
        flush=True,
    )
    warm = {**space, "samples": 2}
    rows, pairs = platform_rows(platform, workers, ("MIN", "1m", series, space), samples, warm)
    workers.stop()
    assert len(pairs) == combinations and all(f < s for f, s in pairs)
    for r in rows:
        print(f"  {r['who']}: median {statistics.median(r['times']):.3f} s", flush=True)
    signals = baselines.signals_strategy()
    run_row(
        rows,
        "our engine, signals loop, 1 process",
        lambda: baselines.ours_loop(bars, pairs, signals),
        samples,
    )
    event_driven_agrees(bars, pairs, rows[0]["equity"], EVENT_DRIVEN_SAMPLE)
    _vectorbt_and_floor(rows, bars, pairs, samples, chunk=50)
    assert_our_engine_agrees(rows)
    assert_others_close(rows, len(pairs))
    chunk_profile(bars, pairs, samples)
    medians = print_table(
        f"random, {len(pairs):,} combinations; {SWEPT}; {load_line(os.cpu_count() or 0)}",
        len(pairs),
        rows,
        ["vectorbt", "our engine, signals loop, 1", "compiled"],
    )
    one = medians[rows[0]["who"]]
    two = medians[rows[1]["who"]]
    print(
        f"target: two workers >= 1.8x one: {one / two:.2f}x -> "
        f"{'met' if one / two >= 1.8 else 'NOT met'}"
    )
    vbt = next((m for w, m in medians.items() if w.startswith("vectorbt")), None)
    if vbt is None:
        print("target: at least 5x vectorbt with two workers: no vectorbt row")
    else:
        print(
            f"target: at least 5x vectorbt with two workers: {vbt / two:.2f}x -> "
            f"{'met' if vbt / two >= 5 else 'NOT met'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="*", choices=["grid", "random"], default=[])
    parser.add_argument("--samples", type=int, default=int(os.environ.get("BENCH_SAMPLES", 3)))
    parser.add_argument(
        "--random-samples", type=int, default=int(os.environ.get("BENCH_RANDOM_SAMPLES", 1))
    )
    parser.add_argument("--random-combinations", type=int, default=2000)
    args = parser.parse_args()
    which = args.which or ["grid", "random"]
    workers = Workers()
    try:
        call_command("migrate", verbosity=0)
        from accounts.models import User
        from strategies.services import strategy_create

        owner = User.objects.create(username="bench", email="bench@example.com", role="trader")
        strategy = strategy_create(
            owner=owner,
            name="bench-sma",
            code=baselines.SIGNALS_STRATEGY_FILE.read_text(),
        )
        client = APIClient()
        client.force_authenticate(owner)
        platform = Platform(client, strategy.pk)
        if "grid" in which:
            measure_grid(platform, workers, args.samples)
        if "random" in which:
            measure_random(platform, workers, args.random_samples, args.random_combinations)
    finally:
        workers.stop()
        shutil.rmtree(workers.tmp, ignore_errors=True)  # the workers' logs (shown on failure)
        connections.close_all()
        _database("drop")


if __name__ == "__main__":
    main()
