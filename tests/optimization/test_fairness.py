"""A sweep's chunks may use more than one worker slot of their owner, up to their own limit.

Backtests keep BACKTEST_USER_MAX_RUNNING (1): one user's runs cannot hold every worker. A sweep
is one job cut into chunks; with that same limit one user's sweep could never use a second
worker, so its kind has OPTIMIZATION_USER_MAX_RUNNING.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from backtesting.jobs.lifecycle import ClaimOutcome, job_claim
from backtesting.optimization.models import OptimizationChunk


def _running_elsewhere(chunk_id: int) -> None:
    OptimizationChunk.objects.filter(pk=chunk_id).update(
        status="running", claim_token="other-worker", attempts=1, started_at=timezone.now(),
        lease_expires_at=timezone.now() + timedelta(seconds=60),
    )  # fmt: skip


def test_a_users_sweep_runs_up_to_its_kinds_limit_of_chunks_at_once(
    sweep, settings, chunks_of_25
) -> None:
    settings.BACKTEST_USER_MAX_RUNNING = 1
    settings.OPTIMIZATION_USER_MAX_RUNNING = 2
    optimization = sweep()
    first, second, third, *_ = optimization.chunks.order_by("pk").values_list("pk", flat=True)
    _running_elsewhere(first)

    assert job_claim(OptimizationChunk, job_id=second, token="me") is ClaimOutcome.CLAIMED
    assert job_claim(OptimizationChunk, job_id=third, token="me") is ClaimOutcome.DEFERRED
    statuses = dict(optimization.chunks.values_list("pk", "status"))
    assert (statuses[second], statuses[third]) == ("running", "queued")


def test_no_limit_when_the_kinds_limit_is_zero(sweep, settings) -> None:
    settings.OPTIMIZATION_USER_MAX_RUNNING = 0
    optimization = sweep()
    chunks = list(optimization.chunks.order_by("pk").values_list("pk", flat=True))
    for chunk_id in chunks[:-1]:
        _running_elsewhere(chunk_id)
    assert job_claim(OptimizationChunk, job_id=chunks[-1], token="me") is ClaimOutcome.CLAIMED
