"""A Celery worker killed with SIGKILL (its whole process group) mid-backtest and mid-chunk.

Two workers consume the backtests and optimizations queues, as a small deployment runs
them. A job is submitted through the API; the worker running it (the one whose processes
burn CPU) is killed outright: no ack, no reject, no row written on the way out. The other
worker must finish the job exactly once, found by the recovery sweep after the lease (3 s
here) expires: one more claim, no duplicate trade, result or sweep row.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.chaos.conftest import Server, Stack, Worker, cpu_ticks, descendants, wait_for

pytestmark = pytest.mark.slow

QUEUES = "backtests,optimizations"
RECOVERY_DEADLINE = 120.0  # generous: a loaded 2-core box runs the slow strategy slowly


@pytest.fixture(scope="module")
def server(stack: Stack) -> Server:
    return stack.start_server(workers=1)


@pytest.fixture(scope="module")
def workers(stack: Stack) -> Iterator[list[Worker]]:
    yield stack.start_workers(2, queues=QUEUES)


def _tree_ticks(worker: Worker) -> int:
    pid = worker.process.pid
    return sum(cpu_ticks(p) for p in (pid, *descendants(pid)))


def busiest(workers: list[Worker]) -> Worker:
    """The worker whose processes used the most CPU over half a second: the one running."""
    before = [_tree_ticks(worker) for worker in workers]
    time.sleep(0.5)
    used = [_tree_ticks(w) - b for w, b in zip(workers, before, strict=True)]
    return workers[used.index(max(used))]


def kill_the_busy_one(workers: list[Worker]) -> float:
    """SIGKILL the worker running the job; the others must live on. Returns when."""
    victim = busiest(workers)
    victim.kill()
    killed_at = time.monotonic()
    workers.remove(victim)
    assert all(worker.alive() for worker in workers)
    return killed_at


def test_a_worker_killed_mid_backtest_the_other_finishes_it_exactly_once(stack, server, workers):
    pk = server.submit_backtest(spin=50_000)  # a few seconds of work
    table = "backtesting_backtest"
    wait_for(lambda: stack.job(table, pk)["progress"] > 0.1, 60, "the backtest to be mid-run")

    killed_at = kill_the_busy_one(workers)
    assert stack.job(table, pk)["status"] == "running"
    done = wait_for(lambda: stack.finished_job(table, pk), RECOVERY_DEADLINE, "the recovered run")
    print(f"\nworker killed mid-backtest: finished {time.monotonic() - killed_at:.1f} s later")  # noqa: T201

    assert done["status"] == "succeeded", done["error_message"]
    assert done["attempts"] == 2  # the killed worker's claim, then the survivor's
    trades, distinct = stack.query(
        "SELECT count(*), count(DISTINCT seq) FROM backtesting_trade WHERE backtest_id = %s", pk
    )[0]
    assert trades > 0 and trades == distinct
    results = stack.query(
        "SELECT (metrics->>'n_trades')::int FROM backtesting_backtestresult WHERE backtest_id = %s",
        pk,
    )
    closed = stack.query(
        "SELECT count(*) FROM backtesting_trade WHERE backtest_id = %s AND NOT is_open", pk
    )[0][0]
    assert results == [(closed,)]  # one result row, counting the stored trades once
    assert stack.query("SELECT count(*) FROM backtesting_backtest")[0][0] == 1


def test_a_worker_killed_mid_chunk_the_other_redoes_the_chunk_exactly_once(stack, server, workers):
    workers.append(stack.start_worker(queues=QUEUES))  # two again
    space = {"kind": "grid", "parameters": {"spin": {"min": 8000, "max": 8009, "step": 1}}}
    answer = server.api("POST", "/api/v1/optimizations/", {
        "strategy": server.credentials["strategy"], "instruments": ["AAA"], "timeframe": "1d",
        "start": "2000-01-01T00:00:00Z", "end": "2030-01-01T00:00:00Z",
        "space": space, "objective": "sharpe",
    })  # fmt: skip
    assert answer.status == 202, answer.text
    pk = answer.json()["id"]
    chunk_table = "optimization_optimizationchunk"
    (chunk,) = wait_for(
        lambda: stack.query(
            "SELECT id FROM optimization_optimizationchunk WHERE optimization_id = %s", pk
        ),
        60, "the sweep's chunk",
    )  # fmt: skip
    wait_for(lambda: stack.job(chunk_table, chunk[0])["progress"] > 0.1, 60, "mid-chunk")

    killed_at = kill_the_busy_one(workers)
    assert stack.job(chunk_table, chunk[0])["status"] == "running"
    done = wait_for(lambda: stack.finished_job("optimization_optimization", pk), RECOVERY_DEADLINE,
                    "the recovered sweep")  # fmt: skip
    print(f"\nworker killed mid-chunk: sweep finished {time.monotonic() - killed_at:.1f} s later")  # noqa: T201

    assert done["status"] == "succeeded", done["error_message"]
    assert stack.job(chunk_table, chunk[0])["attempts"] == 2
    indexes = stack.query(
        "SELECT index FROM optimization_optimizationresult WHERE optimization_id = %s ORDER BY 1",
        pk,
    )
    assert [index for (index,) in indexes] == list(range(10))  # each combination once
