"""The broker (Redis without persistence) restarted with jobs queued, and down at submit time.

A restart loses every queued message and every unacknowledged entry. The rows are the
truth: the recovery sweep (backtesting/jobs/recovery.py, run by every worker) re-publishes
`queued` rows whose message lease expired, so every job still finishes, once. The worker
runs as `make run` runs it (gossip, mingle and broker heartbeats on), with the module's short
job timings (a queued job is presumed lost after 5 s, a sweep every 0.5 s); the time the
last job took to finish after the restart is printed.
"""

from __future__ import annotations

import time

import pytest

from tests.chaos.conftest import Server, Stack, Worker, wait_for

pytestmark = pytest.mark.slow

QUEUED_JOBS = 4
PUBLISH_FAIL_MAX = 3
PUBLISH_RESET_TIMEOUT = 2.0
DEADLINE = 120.0  # generous: a loaded 2-core box


@pytest.fixture(scope="module")
def server(stack: Stack) -> Server:
    breaker = {"BROKER_PUBLISH_BREAKER_FAIL_MAX": str(PUBLISH_FAIL_MAX),
               "BROKER_PUBLISH_BREAKER_RESET_TIMEOUT": str(PUBLISH_RESET_TIMEOUT)}  # fmt: skip
    return stack.start_server(workers=1, env=breaker)


@pytest.fixture(scope="module")
def worker(stack: Stack) -> Worker:
    return stack.start_worker(queues="backtests", lean=False)


def statuses(stack: Stack, pks: list[int]) -> dict[int, tuple[str, int]]:
    rows = stack.query(
        "SELECT id, status, attempts FROM backtesting_backtest WHERE id = ANY(%s)", pks
    )
    return {pk: (status, attempts) for pk, status, attempts in rows}


def all_finished(stack: Stack, pks: list[int]) -> bool:
    return all(status in ("succeeded", "failed", "cancelled")
               for status, _ in statuses(stack, pks).values())  # fmt: skip


def assert_each_ran_once(stack: Stack, pks: list[int]) -> None:
    assert {pk: status for pk, (status, _) in statuses(stack, pks).items()} == dict.fromkeys(
        pks, "succeeded"
    )
    results = stack.query(
        "SELECT backtest_id, count(*) FROM backtesting_backtestresult"
        " WHERE backtest_id = ANY(%s) GROUP BY backtest_id", pks,
    )  # fmt: skip
    assert dict(results) == dict.fromkeys(pks, 1)
    duplicates = stack.query(
        "SELECT backtest_id, seq FROM backtesting_trade WHERE backtest_id = ANY(%s)"
        " GROUP BY backtest_id, seq HAVING count(*) > 1", pks,
    )  # fmt: skip
    assert duplicates == []


def test_jobs_queued_when_the_broker_restarts_all_finish_exactly_once(stack, server, worker):
    busy = server.submit_backtest(spin=30_000)
    wait_for(lambda: statuses(stack, [busy])[busy][0] == "running", 60, "the first job to run")
    queued = [server.submit_backtest(spin=0) for _ in range(QUEUED_JOBS)]  # behind it: one slot
    assert {status for status, _ in statuses(stack, queued).values()} == {"queued"}

    stack.redis.restart()  # every queued message and unacked entry is gone
    restarted = time.monotonic()
    wait_for(lambda: all_finished(stack, [busy, *queued]), DEADLINE, "every job to finish")
    took = time.monotonic() - restarted
    print(f"\nbroker restarted with {QUEUED_JOBS} jobs queued behind a running one: "  # noqa: T201
          f"all finished {took:.1f} s later")  # fmt: skip

    assert_each_ran_once(stack, [busy, *queued])
    assert worker.alive()


def test_jobs_submitted_while_the_broker_is_down_are_accepted_and_run_once_it_is_back(
    stack, server, worker
):
    stack.redis.kill()
    started = time.monotonic()
    # The rows are the truth: each is accepted (202), not lost with its message. After
    # FAIL_MAX failed publishes the breaker is open and nothing waits on the broker.
    pks = [server.submit_backtest(spin=0) for _ in range(PUBLISH_FAIL_MAX + 2)]
    accepted_in = time.monotonic() - started
    reasons = [line for line in server.log().splitlines() if "job_publish_failed" in line]
    assert len(reasons) == len(pks)
    assert sum("CircuitBreakerError" in line for line in reasons) >= 2, reasons

    stack.redis.start()
    wait_for(lambda: all_finished(stack, pks), DEADLINE, "the jobs submitted while down")
    print(f"\n{len(pks)} jobs submitted while the broker was down: accepted in "  # noqa: T201
          f"{accepted_in:.1f} s in all, all finished {time.monotonic() - started:.1f} s after the "
          "first was submitted")  # fmt: skip
    assert_each_ran_once(stack, pks)
    assert worker.alive()

    # After the reset timeout one trial publish closes the breaker: the next job is sent at
    # once, not left to the sweep (which would wait BACKTEST_REQUEUE_AFTER_SECONDS).
    time.sleep(PUBLISH_RESET_TIMEOUT)
    pk = server.submit_backtest(spin=0)
    wait_for(lambda: all_finished(stack, [pk]), DEADLINE, "the job after the breaker closed")
    assert sum("job_publish_failed" in line for line in server.log().splitlines()) == len(pks)
    assert_each_ran_once(stack, [pk])
