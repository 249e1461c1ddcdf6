"""Whole-worker death and infrastructure faults, with real worker processes on the real broker.

Each test runs its own workers on a queue of its own (the row's `queue`, which every publish
and re-publish uses), so the session worker never takes these jobs.
"""

from __future__ import annotations

import os
import re
import signal
import uuid
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from backtesting import services
from backtesting.models import Backtest, BacktestStatus, DeadLetter, Trade
from backtesting.tasks import backtest_execute_task
from tests.backtesting.conftest import seed_bars
from tests.integration.test_backtest_worker import finished, post, status_of, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def own_queue(monkeypatch) -> str:
    queue = f"it-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(services, "BACKTEST_QUEUE", queue)
    return queue


def metric(worker: Any, name: str, **labels: str) -> float:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(worker.metrics_dir))
    return registry.get_sample_value(name, labels) or 0.0


def test_a_whole_worker_killed_mid_job_is_recovered_by_a_new_worker_exactly_once(
    setup, own_queue, start_worker
) -> None:
    victim = start_worker(queues=own_queue)
    recovered_before = metric(victim, "tradeplatform_backtests_recovered_total",
                              reason="lease_expired")  # fmt: skip
    request_id = f"it-{uuid.uuid4().hex}"
    pk = post(setup, spin=120_000, request_id=request_id)  # a few seconds of work
    wait_for(lambda: status_of(pk).progress > 0.1, 30, "the job to be mid-run")

    # The main process and its whole group: no ack, no reject, nothing written on the way out.
    os.killpg(victim.process.pid, signal.SIGKILL)
    victim.process.wait(timeout=10)
    assert status_of(pk).status == BacktestStatus.RUNNING

    successor = start_worker(queues=own_queue)
    # The sweep (of whichever worker takes its lock) finds the dead worker's lease expired.
    wait_for(
        lambda: metric(successor, "tradeplatform_backtests_recovered_total",
                       reason="lease_expired") == recovered_before + 1,
        60, "the recovery sweep to re-publish the job",
    )  # fmt: skip
    # What Redis does after its visibility timeout: the original message comes back too. It
    # must not run the job a second time. Sent after the sweep's message, so it is the one
    # found running or finished (sent earlier, it could be the one that re-claims the job).
    backtest_execute_task.apply_async((pk,), queue=own_queue)
    done = wait_for(lambda: finished(pk), 90, "the recovered job to finish")

    assert done.status == BacktestStatus.SUCCEEDED, done.error_message
    assert done.attempts == 2  # the killed worker's claim, then the successor's, nothing more
    assert done.request_id == request_id
    seqs = list(Trade.objects.filter(backtest_id=pk).values_list("seq", flat=True))
    assert seqs and len(seqs) == len(set(seqs))
    assert done.metrics["n_trades"] == Trade.objects.filter(backtest_id=pk, is_open=False).count()
    assert Backtest.objects.filter(owner=setup["owner"]).count() == 1
    # The duplicate waits behind the run (one slot), so its no-op may come after the finish.
    no_op = "backtest not claimable; nothing to do"
    wait_for(lambda: no_op in successor.log(), 30, "the duplicate to be consumed as a no-op")
    assert status_of(pk).attempts == 2 and Trade.objects.filter(backtest_id=pk).count() == len(seqs)
    assert (
        metric(successor, "tradeplatform_backtests_recovered_total", reason="lease_expired")
        == recovered_before + 1
    )


def _retry_countdowns(log: str) -> list[float]:
    return [
        float(s) for s in re.findall(r"backtest_execute\[[^\]]+\] retry: Retry in ([\d.]+)s", log)
    ]


def test_a_transient_database_fault_is_retried_with_backoff_then_succeeds(
    setup, own_queue, start_worker
) -> None:
    seed_bars("FLAKY", 500)
    worker = start_worker(queues=own_queue, app="tests.integration.faulty_worker",
                          env={"BACKTEST_RETRY_BACKOFF_MAX_SECONDS": "1"})  # fmt: skip
    pk = post(setup, spin=0, symbol="FLAKY")
    done = wait_for(lambda: finished(pk), 60, "the job to succeed after the fault cleared")

    assert done.status == BacktestStatus.SUCCEEDED, done.error_message
    assert done.attempts == 3  # two claims released by the fault, then the run
    countdowns = _retry_countdowns(worker.log())
    assert len(countdowns) == 2
    # Full-jitter exponential backoff: attempt n waits up to 0.2 * 2**n seconds.
    assert all(0 <= c <= 0.2 * 2**n for n, c in enumerate(countdowns))
    assert not DeadLetter.objects.exists()


def test_a_lasting_database_fault_exhausts_the_retries_into_a_dead_letter(
    setup, own_queue, start_worker
) -> None:
    seed_bars("DOWN", 500)
    worker = start_worker(queues=own_queue, app="tests.integration.faulty_worker",
                          env={"BACKTEST_MAX_RETRIES": "3"})  # fmt: skip
    request_id = f"it-{uuid.uuid4().hex}"
    pk = post(setup, spin=0, symbol="DOWN", request_id=request_id)
    done = wait_for(lambda: finished(pk), 60, "the job to be dead-lettered")

    assert done.status == BacktestStatus.FAILED and done.error_code == "infrastructure"
    assert done.attempts == 4  # the first delivery and three retries
    letter = wait_for(lambda: DeadLetter.objects.filter(backtest_id=pk).first(), 10, "the letter")
    assert letter.kind == "backtest" and letter.task_args == [pk] and letter.attempts == 4
    assert letter.request_id == request_id
    assert "injected fault" in letter.error
    assert len(_retry_countdowns(worker.log())) == 3
    assert metric(worker, "tradeplatform_dead_letters_total", kind="backtest") >= 1
