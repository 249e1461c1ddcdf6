"""What a worker does with one robustness run: claim it, compute, store the result, finish.

Delivery is at-least-once, as for backtests: the claim (a conditional UPDATE with a token)
makes a duplicate delivery a no-op, and the result is written in the same transaction as the
`succeeded` status, conditional on the claim, so a recovered run is stored exactly once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction

from backtesting import sandbox
from backtesting.engine.bars import BarSeries
from backtesting.engine.spec import BacktestSpec
from backtesting.execution import run_sandboxed
from backtesting.jobs.fields import JobStatus
from backtesting.jobs.lifecycle import ClaimOutcome, JobClaim, job_claim
from backtesting.robustness import compute, selectors
from backtesting.robustness.lookahead import lookahead_check
from backtesting.robustness.models import RobustnessKind, RobustnessResult, RobustnessRun
from backtesting.robustness.services import robustness_finish_effects

logger = logging.getLogger(__name__)


class RunCancelledError(Exception):
    """The user cancelled (or the claim was lost): stop between batches."""


def robustness_execute(*, run_id: int) -> RobustnessRun | None:
    """Claim, compute and store one run; returns the row in its final state (None if gone).

    A finished run, or one a live worker owns, is returned untouched. The user's failures
    (their code in the sandbox, data that no longer matches) end it `failed`, never retried;
    database and broker errors propagate so the task can retry them.
    """
    token = uuid.uuid4().hex
    if job_claim(RobustnessRun, job_id=run_id, token=token) is not ClaimOutcome.CLAIMED:
        return RobustnessRun.objects.filter(pk=run_id).first()
    claim = JobClaim(RobustnessRun, run_id, token)
    run = RobustnessRun.objects.select_related("backtest__strategy_version").get(pk=run_id)
    try:
        data = _compute(run, claim)
        _store(claim, data)
    except (RunCancelledError, sandbox.SandboxCancelledError):
        claim.fail(JobStatus.CANCELLED, "cancelled", "Cancelled by the user.")
    except SoftTimeLimitExceeded:
        claim.fail(JobStatus.FAILED, "time_limit", "The test ran too long and was stopped.")
    except sandbox.SandboxError as exc:
        claim.fail(JobStatus.FAILED, exc.code, exc.message, exc.to_dict())
    except ValueError as exc:  # the research functions' refusal of these inputs
        claim.fail(JobStatus.FAILED, "invalid_input", str(exc))
    except BaseException:
        claim.release()
        raise
    return RobustnessRun.objects.filter(pk=run_id).first()


def _compute(run: RobustnessRun, claim: JobClaim) -> dict[str, Any]:
    def progress(fraction: float) -> None:
        claim.on_progress(fraction)
        if claim.should_cancel():
            raise RunCancelledError()

    p, backtest = run.parameters, run.backtest
    if run.kind == RobustnessKind.MONTE_CARLO:
        return _monte_carlo(run, progress)
    if run.kind == RobustnessKind.RANDOM_ENTRY:
        inputs = selectors.chance_inputs(backtest)
        return compute.random_entry(
            inputs.close,
            inputs.trades,
            n_strategies=p["n_strategies"],
            seed=p["seed"],
            progress=progress,
        )

    def run_on(bars: Mapping[str, BarSeries]) -> dict[str, Any]:
        return run_sandboxed(backtest, dict(bars), None, claim.should_cancel, with_orders=True)

    bars = selectors.backtest_bars(backtest)
    return lookahead_check(bars, run_on, n_checks=p["n_checks"], seed=p["seed"], progress=progress)


def _monte_carlo(run: RobustnessRun, progress: compute.Progress) -> dict[str, Any]:
    p, backtest = run.parameters, run.backtest
    initial = float(backtest.settings.get("initial_cash", BacktestSpec.initial_cash))
    if p["method"] == "block_bootstrap":
        curve = selectors.equity_series(backtest)
        if curve is None or len(curve.equity) < 3:
            raise ValueError("this backtest stored no equity curve to resample")
        returns = curve.equity[1:] / curve.equity[:-1] - 1.0
        times: list[int] = curve.timestamps_ns.tolist()
        data = compute.monte_carlo(
            returns,
            method="block_bootstrap",
            n_runs=p["n_runs"],
            seed=p["seed"],
            initial_equity=float(curve.equity[0]),
            mean_block_length=p["mean_block_length"],
            progress=progress,
        )
    else:
        trades = selectors.closed_trades(backtest)
        # Step 0 is the start of the backtest; step i the close of the i-th trade.
        start_ns = int(backtest.start.timestamp()) * 1_000_000_000
        times = _strictly_increasing([start_ns, *trades.exit_ns.tolist()])
        data = compute.monte_carlo(
            trades.net_pnl,
            method=p["method"],
            n_runs=p["n_runs"],
            seed=p["seed"],
            initial_equity=initial,
            progress=progress,
        )
    data["bands"]["times"] = [int(times[i]) // 1_000_000_000 for i in data["bands"]["index"]]
    return data


def _strictly_increasing(ns: list[int]) -> list[int]:
    # Trades closing on the same bar share a time; a chart's time axis needs distinct ones.
    out: list[int] = []
    for t in ns:
        out.append(max(t, out[-1] + 1_000_000_000) if out else t)
    return out


def _store(claim: JobClaim, data: dict[str, Any]) -> None:
    if claim.lost:
        raise RunCancelledError()
    with transaction.atomic():
        if not claim.mark_succeeded():
            # Cancelled, deleted or re-claimed meanwhile: this attempt's result must not land.
            transaction.set_rollback(True)
            return
        # update_or_create: a redelivery after a crash between commit and ack overwrites.
        RobustnessResult.objects.update_or_create(run_id=claim.job_id, defaults={"data": data})
    robustness_finish_effects(claim.job_id, JobStatus.SUCCEEDED)
