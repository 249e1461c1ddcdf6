"""The sandboxed child running a backtest killed (as the OOM killer would) or hung (SIGSTOP).

Tested from outside, through what users and operators see: the job's row and the worker.
The child is found as the process under the worker that burns CPU while the job runs (no
sandbox internals). As designed (docs/sandbox.md): a child killed by a signal after the
user's code started ends the job `failed` with `child_crashed`; a child that stops making
progress is killed at the wall-clock deadline and the job ends `failed` with
`wall_clock_limit`. Either way nothing half-written is stored, the worker process lives
on, and its next job succeeds.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.chaos.conftest import Server, Stack, Worker, cpu_ticks, descendants, wait_for

pytestmark = pytest.mark.slow

WALL_SECONDS = 6  # the worker's sandbox wall-clock limit in this module
TABLE = "backtesting_backtest"


@pytest.fixture(scope="module")
def server(stack: Stack) -> Server:
    return stack.start_server(workers=1)


@pytest.fixture(scope="module")
def worker(stack: Stack) -> Worker:
    return stack.start_worker(queues="backtests",
                              env={"BACKTEST_SANDBOX_WALL_SECONDS": str(WALL_SECONDS)})  # fmt: skip


def running_child(worker: Worker) -> int:
    """The process under the worker's pool that burns CPU: the one running the user's code."""
    leaves = [pid for pid in descendants(worker.process.pid) if not descendants(pid)]
    before = {pid: cpu_ticks(pid) for pid in leaves}
    time.sleep(0.5)
    used = {pid: cpu_ticks(pid) - ticks for pid, ticks in before.items()}
    busiest = max(used, key=lambda pid: used[pid])
    assert used[busiest] > 0, "no process under the worker is running"
    return busiest


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"  # dead, its parent not yet told


def fault_mid_run(stack: Stack, server: Server, worker: Worker, sig: signal.Signals) -> dict:
    pk = server.submit_backtest(spin=60_000)
    wait_for(lambda: stack.job(TABLE, pk)["progress"] > 0.05, 60, "the backtest to be mid-run")
    child = running_child(worker)
    os.kill(child, sig)
    done = wait_for(lambda: stack.finished_job(TABLE, pk), 60, "the job's end")
    assert _gone(child), "the faulty child was left behind"
    assert worker.alive(), worker.log()[-3000:]
    assert stack.query("SELECT count(*) FROM backtesting_trade WHERE backtest_id = %s", pk) == [
        (0,)
    ]
    assert stack.query(
        "SELECT count(*) FROM backtesting_backtestresult WHERE backtest_id = %s", pk
    ) == [(0,)]
    return done


def assert_the_next_job_succeeds(stack: Stack, server: Server) -> None:
    pk = server.submit_backtest(spin=0)
    done = wait_for(lambda: stack.finished_job(TABLE, pk), 60, "the next job")
    assert done["status"] == "succeeded", done["error_message"]
    assert done["attempts"] == 1


def test_a_killed_child_fails_the_job_cleanly_and_the_worker_runs_the_next(stack, server, worker):
    done = fault_mid_run(stack, server, worker, signal.SIGKILL)
    assert done["status"] == "failed" and done["error_code"] == "child_crashed", done
    assert "signal 9" in done["error_message"] and "Traceback" not in done["error_message"]
    assert done["attempts"] == 1  # the user's run is not retried in a loop
    assert_the_next_job_succeeds(stack, server)


def test_a_hung_child_is_stopped_at_the_wall_clock_limit_and_the_worker_runs_the_next(
    stack, server, worker
):
    started = time.monotonic()
    done = fault_mid_run(stack, server, worker, signal.SIGSTOP)
    took = time.monotonic() - started
    report = f"hung sandbox child: the job failed {took:.1f} s in (limit {WALL_SECONDS} s)"
    print(f"\n{report}")  # noqa: T201 - the measured time, shown with -s
    assert done["status"] == "failed" and done["error_code"] == "wall_clock_limit", done
    assert done["attempts"] == 1
    assert_the_next_job_succeeds(stack, server)
