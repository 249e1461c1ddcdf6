"""End-to-end backtest latency and throughput with a real, warm Celery worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tp_jobs_bench \
    REDIS_URL=redis://127.0.0.1:6379/9 CELERY_BROKER_URL=redis://127.0.0.1:6379/10 \
    .venv/bin/python -m benchmarks.jobs.bench_latency [--runs 50] [--burst 40]

Latency: POST /api/v1/backtests/ (in-process APIClient: validation, row, publish) until the
row says `succeeded`, for the SMA-crossover example over ten years of daily bars (2,520),
one job at a time. Broken down from the row's own timings. Throughput: a burst of jobs
submitted at once, drained by one and then two worker processes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("DJANGO_ENV", "test")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradeplatform.settings")
os.environ.setdefault("DB_POOL_SIZE", "2")
# The API rate limit protects us from clients; the benchmark is the one client it would throttle.
os.environ.setdefault("RATELIMIT_ENABLE", "false")
# The burst comes from one user; per-user fairness would cap it at one running job and hide
# what the workers can drain (fairness has its own tests).
os.environ.setdefault("BACKTEST_USER_MAX_RUNNING", "0")
sys.path.insert(0, str(ROOT))

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from backtesting.models import Backtest  # noqa: E402

START, END = datetime(2010, 1, 1, tzinfo=UTC), datetime(2019, 12, 31, tzinfo=UTC)


def prepare() -> tuple[Any, Any]:
    from accounts.models import User
    from backtesting.engine import BarSeries
    from backtesting.marketdata.models import Instrument
    from backtesting.marketdata.services import series_version_bump
    from backtesting.marketdata.writes import bars_upsert
    from strategies.services import strategy_create

    call_command("migrate", verbosity=0)
    owner, _ = User.objects.get_or_create(
        username="bench", defaults={"email": "bench@example.com", "is_superuser": True}
    )
    instrument, _ = Instrument.objects.get_or_create(symbol="BENCH", defaults={"timezone": "UTC"})
    if not instrument.bars.exists():
        n = 2520
        rng = np.random.default_rng(7)
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
        ts = np.datetime64("2010-01-01", "ns").astype(np.int64) + np.arange(n) * 86_400 * 10**9
        bars = BarSeries("BENCH", ts, close, close * 1.01, close * 0.99, close, np.full(n, 1e6))
        with transaction.atomic():
            counts = bars_upsert(instrument_id=instrument.pk, timeframe="1d", bars=bars,
                                 batch_size=5000, progress=None)  # fmt: skip
            series_version_bump(instrument, "1d", changed=counts.changed)
    strategy = owner.strategies.filter(name="bench-sma").first() or strategy_create(
        owner=owner,
        name="bench-sma",
        code=(ROOT / "strategies/examples/sma_crossover.py").read_text(),
    )
    return owner, strategy


def start_worker(concurrency: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "celery", "-A", "tradeplatform", "worker", "--pool", "prefork",
               "--concurrency", str(concurrency), "--queues", "backtests,notifications",
               "--loglevel", "WARNING", "--without-gossip", "--without-mingle"]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(), start_new_session=True)
    time.sleep(4.0)  # startup; the warm-up runs below absorb the rest
    return process


def submit(client: APIClient, strategy: Any) -> int:
    body = {"strategy": strategy.pk, "instruments": ["BENCH"], "timeframe": "1d",
            "start": START.isoformat(), "end": END.isoformat(),
            "parameters": {"fast": 10, "slow": 30}}  # fmt: skip
    response = client.post("/api/v1/backtests/", body, format="json")
    assert response.status_code == 202, response.content
    return response.json()["id"]


def wait(pk: int) -> str:
    while True:
        status = Backtest.objects.filter(pk=pk).values_list("status", flat=True).get()
        if status in ("succeeded", "failed", "cancelled"):
            return status
        time.sleep(0.002)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def latency(client: APIClient, strategy: Any, runs: int) -> None:
    for _ in range(3):
        wait(submit(client, strategy))  # warm: worker imports, bar cache, sandbox page cache
    totals, ids = [], []
    for _ in range(runs):
        started = time.perf_counter()
        pk = submit(client, strategy)
        assert wait(pk) == "succeeded"
        totals.append((time.perf_counter() - started) * 1000)
        ids.append(pk)
    # Read the rows afterwards: write_ms lands in one more UPDATE just after `succeeded`.
    time.sleep(0.5)
    rows = list(Backtest.objects.filter(pk__in=ids))
    assert all(r.started_at is not None for r in rows), "every run was claimed"
    engine_ms = engine_only_ms()
    parts = {
        "queue wait (queued_at -> claimed)": [
            (r.started_at - r.queued_at).total_seconds() * 1000  # type: ignore[operator]
            for r in rows
        ],
        "data load + fingerprint": [r.timings["data_load_ms"] for r in rows],
        "sandbox (start + engine + IPC)": [r.timings["sandbox_ms"] for r in rows],
        "result write (trades + row)": [r.timings["write_ms"] for r in rows],
    }
    print(f"\nEnd-to-end latency over {runs} runs (SMA crossover, 2,520 daily bars):")
    for name, values in {"total": totals, **parts}.items():
        p50, p95 = percentile(values, 50), percentile(values, 95)
        print(f"  {name:34s} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
    overhead = percentile(parts["sandbox (start + engine + IPC)"], 50) - engine_ms
    print(f"  engine alone (in-process, same bars) {engine_ms:7.1f} ms")
    print(f"  -> sandbox start + IPC overhead     ~{overhead:5.0f} ms")
    print(f"  trades per run: {rows[-1].trades.count()}")


def engine_only_ms() -> float:
    from backtesting.bars import bars_for_backtest
    from backtesting.engine import BacktestSpec, run_backtest
    from strategies.validation import compile_strategy  # noqa: F401 - same policy as the child

    row = Backtest.objects.order_by("-id").first()
    assert row is not None
    bars = bars_for_backtest(
        symbols=row.symbols, timeframe=row.timeframe, start=row.start, end=row.end
    ).bars
    from backtesting.engine import Param, Strategy
    from backtesting.engine import indicators as ta

    class SmaCross(Strategy):
        fast = Param(10)
        slow = Param(30)

        def init(self) -> None:
            self.a = self.I(ta.sma, self.data.close, self.fast)
            self.b = self.I(ta.sma, self.data.close, self.slow)

        def next(self) -> None:
            if ta.crossover(self.a, self.b):
                self.buy()
            elif ta.crossunder(self.a, self.b):
                self.close()

    spec = BacktestSpec.from_dict(row.spec_dict())
    samples = []
    for _ in range(5):
        t = time.perf_counter()
        run_backtest(spec, bars, SmaCross).to_dict()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def throughput(client: APIClient, strategy: Any, burst: int) -> float:
    started = time.perf_counter()
    ids = [submit(client, strategy) for _ in range(burst)]
    for pk in ids:
        assert wait(pk) == "succeeded"
    return burst / (time.perf_counter() - started) * 60


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--burst", type=int, default=40)
    args = parser.parse_args()
    owner, strategy = prepare()
    client = APIClient()
    client.force_authenticate(owner)
    for concurrency in (1, 2):
        worker = start_worker(concurrency)
        try:
            if concurrency == 1:
                latency(client, strategy, args.runs)
            wait(submit(client, strategy))
            rate = throughput(client, strategy, args.burst)
            print(f"\nThroughput, {concurrency} worker process(es): {rate:.0f} backtests/minute "
                  f"({args.burst} submitted at once)")  # fmt: skip
        finally:
            os.killpg(worker.pid, 15)
            worker.wait(timeout=30)


if __name__ == "__main__":
    main()
