"""Parameter sweeps through the real broker and real workers of the optimizations queue: the
issue's 90-combination grid timed from the API call to the last row stored with one and two
workers (printed, not asserted), and a worker killed mid-chunk whose chunk the shared
lifecycle's recovery sweep redoes exactly once."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from backtesting.optimization.models import Optimization, OptimizationChunk, OptimizationResult
from tests.backtesting.conftest import seed_bars
from tests.factories import StrategyFactory
from tests.integration.test_backtest_worker import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

URL = "/api/v1/optimizations/"
# Fairness lets one user's chunks hold OPTIMIZATION_USER_MAX_RUNNING (2) slots at once; the
# speed runs lift it so the scaling measured is the workers', whatever the default.
NO_FAIRNESS = {"OPTIMIZATION_USER_MAX_RUNNING": "0"}


def _sweep(client: Any, strategy_id: int, symbol: str, space: dict[str, Any], **extra: Any) -> int:
    body = {
        "strategy": strategy_id,
        "instruments": [symbol],
        "timeframe": "1d",
        "start": "2000-01-01T00:00:00Z",
        "end": "2030-01-01T00:00:00Z",
        "space": space,
        "objective": "sharpe",
        **extra,
    }
    response = client.post(URL, body, format="json")
    assert response.status_code == 202, response.json()
    return int(response.json()["id"])


def _stored(pk: int, n: int) -> bool:
    return OptimizationResult.objects.filter(optimization_id=pk).count() >= n


def _finished(pk: int) -> Optimization | None:
    optimization = Optimization.objects.get(pk=pk)
    return optimization if optimization.is_finished else None


def test_the_90_grid_through_the_platform_with_one_and_two_workers(job_setup, start_worker):
    from datetime import UTC, datetime

    seed_bars("TEN", 2520, start=datetime(2010, 1, 1, tzinfo=UTC))  # ten years of daily bars
    strategy = StrategyFactory(owner=job_setup["owner"])
    grid = {
        "kind": "grid",
        "parameters": {
            "fast": {"min": 5, "max": 50, "step": 5},
            "slow": {"min": 20, "max": 200, "step": 20},
        },
    }
    start_worker(queues="optimizations", env=NO_FAIRNESS)
    timings = {}
    for workers in (1, 2):
        if workers == 2:
            start_worker(queues="optimizations", env=NO_FAIRNESS)
        started = time.perf_counter()
        pk = _sweep(job_setup["client"], strategy.pk, "TEN", grid, constraints=["fast < slow"])
        wait_for(lambda pk=pk: _stored(pk, 90), 120, "the 90 rows")
        rows_at = time.perf_counter() - started
        done = wait_for(lambda pk=pk: _finished(pk), 60, "the sweep's end")
        assert done.status == "succeeded" and done.total == 90, done.error_message
        chunks = list(OptimizationChunk.objects.filter(optimization_id=pk))
        assert all(c.status == "succeeded" and c.attempts == 1 for c in chunks)
        compute = sum((c.finished_at - c.started_at).total_seconds() for c in chunks)
        timings[workers] = (rows_at, compute)
    for workers, (rows_at, compute) in timings.items():
        print(  # noqa: T201 - the measured times, shown with -s (docs/research.md quotes them)
            f"\n90-combination grid, {workers} worker(s): API call to last row stored "
            f"{rows_at:.2f} s ({90 / rows_at:.0f} combinations/s); chunks' own time "
            f"{compute:.2f} s in all ({90 / compute:.0f} combinations/s of chunk time)"
        )


def test_a_worker_killed_mid_chunk_is_recovered_once_and_counts_nothing_twice(
    job_setup, start_worker
):
    victim = start_worker(queues="optimizations")
    # Ten combinations of the slow strategy, about a second each: one chunk of several seconds.
    space = {"kind": "grid", "parameters": {"spin": {"min": 20000, "max": 20009, "step": 1}}}
    pk = _sweep(job_setup["client"], job_setup["strategy"].pk, "AAA", space)
    chunk = OptimizationChunk.objects.get(optimization_id=pk)
    wait_for(lambda: OptimizationChunk.objects.get(pk=chunk.pk).progress > 0.1, 60, "mid-chunk")
    os.killpg(victim.process.pid, signal.SIGKILL)
    victim.process.wait(timeout=10)
    assert OptimizationChunk.objects.get(pk=chunk.pk).status == "running"
    assert not OptimizationResult.objects.filter(optimization_id=pk).exists()

    start_worker(queues="optimizations")
    done = wait_for(lambda: _finished(pk), 120, "the recovered sweep to finish")
    assert done.status == "succeeded", done.error_message
    chunk.refresh_from_db()
    assert chunk.status == "succeeded" and chunk.attempts == 2
    indexes = list(
        OptimizationResult.objects.filter(optimization_id=pk).values_list("index", flat=True)
    )
    assert sorted(indexes) == list(range(10))
    assert done.progress == 1.0 and done.best_index is not None
