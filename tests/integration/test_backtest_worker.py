"""The backtest lifecycle with a real Celery worker on the real broker (no eager mode)."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from backtesting.models import Backtest, BacktestStatus

pytestmark = [pytest.mark.integration, pytest.mark.slow]
URL = "/api/v1/backtests/"


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def post(
    setup: dict[str, Any], spin: int, request_id: str | None = None, symbol: str = "AAA"
) -> int:
    headers = {"HTTP_X_REQUEST_ID": request_id} if request_id else {}
    response = setup["client"].post(
        URL,
        {
            "strategy": setup["strategy"].pk,
            "instruments": [symbol],
            "timeframe": "1d",
            "start": "2015-01-01T00:00:00Z",
            "end": "2016-12-31T00:00:00Z",
            "parameters": {"spin": spin},
        },
        format="json",
        **headers,
    )
    assert response.status_code == 202, response.json()
    return response.json()["id"]


def status_of(pk: int) -> Backtest:
    return Backtest.objects.get(pk=pk)


def finished(pk: int) -> Backtest | None:
    backtest = status_of(pk)
    return backtest if backtest.is_finished else None


def test_full_lifecycle_through_the_api_with_request_id_metrics_and_csv(
    setup, celery_worker
) -> None:
    request_id = f"it-{uuid.uuid4().hex}"
    pk = post(setup, spin=0, request_id=request_id)
    done = wait_for(lambda: finished(pk), 60, "the backtest to finish")
    assert done.status == BacktestStatus.SUCCEEDED, done.error_message
    assert done.request_id == request_id and done.attempts == 1

    detail = setup["client"].get(f"{URL}{pk}/").json()
    assert detail["progress"] == 1.0 and detail["metrics"]["n_trades"] > 0
    csv = setup["client"].get(f"{URL}{pk}/trades/", {"format": "csv"})
    assert len(b"".join(csv.streaming_content).splitlines()) == done.trades.count() + 1

    # The worker's log lines for this job carry the id of the request that created it. The
    # line and the metrics are written just after the row is final: wait, do not race them.
    def finished_line_with_request_id() -> bool:
        lines = [line for line in celery_worker.log().splitlines() if "backtest finished" in line]
        return any(request_id in line for line in lines)

    wait_for(finished_line_with_request_id, 30, "the worker's 'backtest finished' line")
    expected_series = [
        'tradeplatform_backtests_total{status="succeeded"}',
        "tradeplatform_backtest_queue_wait_seconds_count",
        "tradeplatform_backtest_run_seconds_bucket",
        "tradeplatform_backtest_bars_processed_total",
    ]
    wait_for(
        lambda: all(series in _exposition(celery_worker) for series in expected_series),
        30, f"the worker's metrics {expected_series}",
    )  # fmt: skip


def _exposition(worker: Any) -> str:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(worker.metrics_dir))
    return generate_latest(registry).decode()


def test_cancelling_a_running_job_stops_it_long_before_it_would_end(setup) -> None:
    pk = post(setup, spin=300_000)  # about ten seconds of work on an idle machine
    wait_for(lambda: status_of(pk).progress > 0.02, 30, "the job to make progress")
    response = setup["client"].post(f"{URL}{pk}/cancel/")
    assert response.status_code == 202
    # The worker polls every 0.5 s; the deadline is for a loaded machine, and what shows the
    # cancel worked is that the run did not get to its end.
    done = wait_for(lambda: finished(pk), 30, "the job to stop")
    assert done.status == BacktestStatus.CANCELLED
    assert done.progress < 1.0 and done.metrics is None
    assert not done.trades.exists()


def test_a_worker_killed_mid_job_leaves_it_to_be_run_again_exactly_once(
    setup, celery_worker
) -> None:
    pk = post(setup, spin=120_000)  # a few seconds of work
    wait_for(lambda: status_of(pk).progress > 0.1, 30, "the job to be mid-run")
    [child] = celery_worker.pool_children()
    os.kill(child, signal.SIGKILL)  # no cleanup, no ack: the broker must hand the job out again
    done = wait_for(lambda: finished(pk), 90, "the redelivered job to finish")
    assert done.status == BacktestStatus.SUCCEEDED, done.error_message
    assert done.attempts == 2  # claimed by the killed process, then re-claimed once
    seqs = list(done.trades.values_list("seq", flat=True))
    assert seqs and len(seqs) == len(set(seqs))
    assert celery_worker.pool_children() != [child]  # a fresh pool process did the rerun
