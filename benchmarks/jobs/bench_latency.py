"""End-to-end backtest latency and throughput with a real, warm Celery worker, against targets.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tp_bench \
    REDIS_URL=redis://127.0.0.1:6379/14 CELERY_BROKER_URL=redis://127.0.0.1:6379/15 \
    .venv/bin/python -m benchmarks.jobs.bench_latency [--runs 50] [--burst 1000]

Latency: POST /api/v1/backtests/ (in-process APIClient: validation, row, publish) until the row
says `succeeded`, for the SMA-crossover example over ten years of daily bars (2,520), one job
at a time on a warm worker with one worker process. Phases from the row's own timestamps and
timings; p50 and p95 against the targets (60 ms and 120 ms).

Throughput: a burst of jobs submitted through the API while the workers do not consume, then
drained by one and then two worker processes; the rate is the burst over first claim to last
finish, against the target of 1,000 a minute with two processes. The rows must prove every job
ran exactly once: all `succeeded`, each claimed once (attempts 1), one result row and the same
trades each. The machine's load is printed with each figure (the machine has 2 cores).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("DJANGO_ENV", "test")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradeplatform.settings")
os.environ.setdefault("DB_POOL_SIZE", "2")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # a line per job from every process hides the table
# The API rate limit protects us from clients; the benchmark is the one client it would throttle.
os.environ.setdefault("RATELIMIT_ENABLE", "false")
# The burst comes from one user; per-user fairness would cap it at one running job and hide
# what the workers can drain (fairness has its own tests). Quotas likewise.
os.environ.setdefault("BACKTEST_USER_MAX_RUNNING", "0")
# The burst waits, unconsumed, while it is submitted: on a loaded machine that takes longer than
# the recovery sweep's 45 s, and with no claim to show the queue moving the sweep re-published
# the waiting jobs (1,300-2,100 duplicate messages a burst), which the drain then paid for.
os.environ.setdefault("BACKTEST_REQUEUE_AFTER_SECONDS", "900")
sys.path.insert(0, str(ROOT))

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count, Max, Min  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from backtesting.models import Backtest, BacktestResult, Trade  # noqa: E402
from tradeplatform.celery import app  # noqa: E402

START, END = datetime(2010, 1, 1, tzinfo=UTC), datetime(2019, 12, 31, tzinfo=UTC)
QUEUE = "backtests"
TARGET_P50_MS, TARGET_P95_MS, TARGET_PER_MINUTE = 60.0, 120.0, 1000.0
FINAL = ("succeeded", "failed", "cancelled")


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} (1 min) {five:.2f} (5 min), {os.cpu_count()} cores"


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
    # A superuser: quotas (accounts.quotas) would refuse a burst of a thousand.
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
    # Rows of earlier runs are left alone, but none may still wait: they would join the burst.
    Backtest.objects.filter(owner=owner, status__in=("queued", "running")).update(
        status="cancelled", cancel_requested=True
    )
    return owner, strategy


class Worker:
    """One Celery worker with `concurrency` prefork processes, its log in a file of its own."""

    def __init__(self, concurrency: int, log_dir: Path) -> None:
        self.processes = concurrency
        self.name = f"bench{concurrency}-{os.getpid()}@%h"
        self.log = log_dir / f"worker-{concurrency}.log"
        command = [sys.executable, "-m", "celery", "-A", "tradeplatform", "worker",
                   "--pool", "prefork", "--concurrency", str(concurrency), "-n", self.name,
                   "--queues", f"{QUEUE},notifications", "--loglevel", "WARNING",
                   "--without-gossip", "--without-mingle"]  # fmt: skip
        with self.log.open("w") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(),
                                            stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)  # fmt: skip
        self.hostname = self._wait_ready()

    def _wait_ready(self) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            replies = app.control.ping(timeout=0.5) or []
            for reply in replies:
                for hostname in reply:
                    if hostname.startswith(self.name.split("@")[0] + "@"):
                        return hostname
            if self.process.poll() is not None:
                break
        raise RuntimeError(f"worker did not start; log:\n{self.log.read_text()[-3000:]}")

    def consume(self, on: bool) -> None:
        """Start or stop taking messages from the backtest queue (Celery remote control)."""
        call = app.control.add_consumer if on else app.control.cancel_consumer
        replies = call(QUEUE, destination=[self.hostname], reply=True, timeout=5)
        assert replies, f"worker {self.hostname} did not answer {call.__name__}"

    def cpu_seconds(self) -> float:
        """CPU time of the worker's process tree so far: its main process, the pool processes
        and every sandbox child they waited for."""
        return _tree_cpu_seconds(self.process.pid)

    def tasks_accepted(self) -> int:
        """Backtest messages this worker has taken since it started (Celery's own count, from
        the remote-control `stats`): a drain of N jobs that took more took duplicates. Counted
        there, not from the log: its WARNING level drops the INFO line a refused duplicate
        writes."""
        replies = app.control.inspect(destination=[self.hostname], timeout=5).stats() or {}
        stats = replies.get(self.hostname)
        assert stats is not None, f"worker {self.hostname} did not answer stats"
        return int(stats.get("total", {}).get("backtesting.backtest_execute", 0))

    def stop(self) -> None:
        os.killpg(self.process.pid, 15)
        self.process.wait(timeout=60)


def _tree_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:  # it exited meanwhile
        return 0.0
    # utime, stime, cutime, cstime: fields 14-17 of stat, counted after the ")" of the name.
    own = sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return own + sum(_tree_cpu_seconds(int(child)) for child in children)


def purge_backtest_queue() -> None:
    """Drop messages an earlier, interrupted run left on the benchmark's broker: a worker would
    spend the measured time refusing them."""
    with app.connection_for_write() as conn:
        channel: Any = conn.default_channel  # kombu's stub types only the common channel part
        dropped = channel.queue_purge(QUEUE) or 0
    if dropped:
        print(f"  ({dropped} messages of an earlier run purged from the queue)")


_post_cpu_ms: list[float] = []  # this process's CPU per POST (the API runs in-process)


def submit(client: APIClient, strategy: Any) -> tuple[int, float, float]:
    """(id, wall-clock start, POST ms); the POST's CPU time goes to _post_cpu_ms."""
    body = {"strategy": strategy.pk, "instruments": ["BENCH"], "timeframe": "1d",
            "start": START.isoformat(), "end": END.isoformat(),
            "parameters": {"fast": 10, "slow": 30}}  # fmt: skip
    wall, started, cpu = time.time(), time.perf_counter(), time.process_time()
    response = client.post("/api/v1/backtests/", body, format="json")
    post_ms = (time.perf_counter() - started) * 1000
    _post_cpu_ms.append((time.process_time() - cpu) * 1000)
    assert response.status_code == 202, response.content
    return response.json()["id"], wall, post_ms


def wait_one(pk: int) -> str:
    # One indexed primary-key read per millisecond: cheap next to the job it waits for.
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT status FROM backtesting_backtest WHERE id = %s", [pk])
            status = cursor.fetchone()[0]
            if status in FINAL:
                return str(status)
            time.sleep(0.001)


def wait_all(ids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    rows = Backtest.objects.filter(pk__in=ids, status__in=FINAL)
    while rows.count() < len(ids):
        assert time.monotonic() < deadline, f"{len(ids) - rows.count()} jobs never finished"
        time.sleep(0.25)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def verdict(value: float, target: float, *, higher_is_better: bool = False) -> str:
    met = value >= target if higher_is_better else value <= target
    ratio = value / target if higher_is_better else target / value
    return f"{'MET' if met else 'NOT MET'} ({ratio:.2f}x the target)"


def latency(client: APIClient, strategy: Any, runs: int, worker: Worker) -> None:
    for _ in range(3):
        wait_one(submit(client, strategy)[0])  # warm: caches, connections, the pool process
    load_before, cpu_before = load(), worker.cpu_seconds()
    _post_cpu_ms.clear()
    runs_seen: list[tuple[int, float, float, float]] = []  # id, wall start, POST ms, total ms
    for _ in range(runs):
        pk, wall, post_ms = submit(client, strategy)
        assert wait_one(pk) == "succeeded"
        runs_seen.append((pk, wall, post_ms, (time.time() - wall) * 1000))
    # The last job's tail (charts, notifications) may still run: wait for the worker to idle.
    time.sleep(0.5)
    worker_cpu_ms = (worker.cpu_seconds() - cpu_before) / runs * 1000
    rows = {r.pk: r for r in Backtest.objects.filter(pk__in=[r[0] for r in runs_seen])}
    results = {r.backtest_id: r.timings for r in BacktestResult.objects.filter(
        backtest_id__in=rows)}  # fmt: skip
    phases: dict[str, list[float]] = {
        name: []
        for name in (
            "total (POST -> succeeded seen)",
            "POST (validate, row, publish)",
            "queue wait (queued_at -> claimed)",
            "data load + fingerprint",
            "sandbox (start + engine + IPC)",
            "result write (one transaction)",
            "other (claim, commit, notice)",
            "  of it, after the POST answered",
        )
    }
    for pk, wall, post_ms, total_ms in runs_seen:
        row, timings = rows[pk], results[pk]
        assert row.started_at is not None
        wait_ms = (row.started_at - row.queued_at).total_seconds() * 1000
        # The broker's and the worker's part of the wait: publish to the claim's commit.
        delivery_ms = (row.started_at.timestamp() - wall) * 1000 - post_ms
        parts = [post_ms, wait_ms, timings["data_load_ms"], timings["sandbox_ms"],
                 timings["write_ms"]]  # fmt: skip
        # queued_at is taken inside the POST, so the POST's tail and the queue wait overlap:
        # "other" is what the named phases leave of the total (it may be near zero).
        values = [total_ms, *parts, total_ms - sum(parts), delivery_ms]
        for name, value in zip(phases, values, strict=True):
            phases[name].append(value)
    engine_ms = engine_only_ms()
    trades = Trade.objects.filter(backtest_id=runs_seen[-1][0]).count()
    print(f"\nLatency over {runs} runs, one job at a time, a warm worker with {worker.processes} "
          f"process(es) (SMA crossover, 2,520 daily bars, {trades} trades):")  # fmt: skip
    print(f"  {load_before} before, {load()} after")
    for name, values in phases.items():
        print(f"  {name:36s} p50 {pct(values, 50):7.1f} ms   p95 {pct(values, 95):7.1f} ms")
    print(f"  engine alone (in-process, same bars)     {engine_ms:7.1f} ms")
    # CPU time does not stretch with the machine's load as much as wall time does.
    print(f"  CPU per job: the POST {pct(_post_cpu_ms, 50):.1f} ms (p50, this process); the "
          f"worker's processes {worker_cpu_ms:.1f} ms (mean: claim, data, sandbox child, "
          f"write, charts, notifications)")  # fmt: skip
    totals = phases["total (POST -> succeeded seen)"]
    p50, p95 = pct(totals, 50), pct(totals, 95)
    print(f"  target p50 <= {TARGET_P50_MS:.0f} ms: {p50:.1f} ms, {verdict(p50, TARGET_P50_MS)}")
    print(f"  target p95 <= {TARGET_P95_MS:.0f} ms: {p95:.1f} ms, {verdict(p95, TARGET_P95_MS)}")


def engine_only_ms() -> float:
    from backtesting.bars import bars_for_backtest
    from backtesting.engine import BacktestSpec, Param, Strategy, run_backtest
    from backtesting.engine import indicators as ta

    row = Backtest.objects.order_by("-id").first()
    assert row is not None
    bars = bars_for_backtest(
        symbols=row.symbols, timeframe=row.timeframe, start=row.start, end=row.end
    ).bars

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


def throughput(client: APIClient, strategy: Any, worker: Worker, burst: int) -> float:
    worker.consume(False)
    started = time.perf_counter()
    ids = [submit(client, strategy)[0] for _ in range(burst)]
    submit_rate = burst / (time.perf_counter() - started) * 60
    load_before, cpu_before, taken_before = load(), worker.cpu_seconds(), worker.tasks_accepted()
    worker.consume(True)
    wait_all(ids, timeout=max(600.0, burst * 0.6))
    cpu_ms = (worker.cpu_seconds() - cpu_before) / burst * 1000
    span = Backtest.objects.filter(pk__in=ids).aggregate(
        first=Min("started_at"), last=Max("finished_at")
    )
    seconds = (span["last"] - span["first"]).total_seconds()
    rate = burst / seconds * 60
    exactly_once(ids)
    print(f"  {burst} submitted through the API at {submit_rate:.0f}/minute with the workers "
          f"not consuming, then drained: {seconds:.1f} s from first claim to last finish, "
          f"{rate:.0f} backtests/minute; the worker's processes used {cpu_ms:.0f} ms of CPU "
          f"per job (PostgreSQL's and Redis' share not counted)")  # fmt: skip
    # The rows prove no job ran twice (exactly_once); this counts the messages that got as
    # far as a claim and were refused as duplicates.
    duplicates = worker.tasks_accepted() - taken_before - burst
    print(f"  {load_before} before the drain, {load()} after; every job ran exactly once "
          f"(from the rows); {duplicates} duplicate deliveries refused")  # fmt: skip
    return rate


def exactly_once(ids: list[int]) -> None:
    """From the rows: nothing lost (all succeeded, each with its result), nothing run twice."""
    rows = Backtest.objects.filter(pk__in=ids)
    by_status = dict(rows.values_list("status").annotate(n=Count("pk")).order_by())
    assert by_status == {"succeeded": len(ids)}, f"job states: {by_status}"
    attempts = dict(rows.values_list("attempts").annotate(n=Count("pk")).order_by())
    assert attempts == {1: len(ids)}, f"claims per job (attempts): {attempts}"
    assert BacktestResult.objects.filter(backtest_id__in=ids).count() == len(ids)
    trades = Trade.objects.filter(backtest_id__in=ids).values("backtest_id").annotate(
        n=Count("pk"), seqs=Count("seq", distinct=True))  # fmt: skip
    per_job = {(t["n"], t["seqs"]) for t in trades}
    assert len(trades) == len(ids) and len(per_job) == 1, f"trades per job: {per_job}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2], choices=[1, 2])
    args = parser.parse_args()
    owner, strategy = prepare()
    client = APIClient()
    client.force_authenticate(owner)
    rates: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as log_dir:
        for concurrency in args.processes:
            purge_backtest_queue()
            worker = Worker(concurrency, Path(log_dir))
            try:
                if concurrency == args.processes[0]:
                    latency(client, strategy, args.runs, worker)
                # Warm every pool process before the burst.
                warm = [submit(client, strategy)[0] for _ in range(2 * concurrency)]
                wait_all(warm, timeout=120)
                print(f"\nThroughput, {concurrency} worker process(es):")
                rates[concurrency] = throughput(client, strategy, worker, args.burst)
            finally:
                worker.stop()
    if 1 in rates and 2 in rates:
        print(f"\nScaling from one to two worker processes: {rates[2] / rates[1]:.2f}x")
    if 2 in rates:
        met = verdict(rates[2], TARGET_PER_MINUTE, higher_is_better=True)
        print(f"Target >= {TARGET_PER_MINUTE:.0f}/minute with two processes: "
              f"{rates[2]:.0f}/minute, {met}")  # fmt: skip


if __name__ == "__main__":
    main()
