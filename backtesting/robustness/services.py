"""Robustness workflows: submit a test on a finished backtest, cancel it, and what follows a
final state. Execution (what the worker does) is in `backtesting.robustness.execution`; every
status change goes through `backtesting.jobs.lifecycle`.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.access import has_role
from accounts.models import Role
from backtesting.jobs.fields import ACTIVE_STATUSES, JobStatus
from backtesting.jobs.lifecycle import CancelOutcome, job_cancel, job_enqueue_on_commit
from backtesting.models import Backtest, Trade
from backtesting.robustness.models import RobustnessKind, RobustnessRun
from tradeplatform.errors import ConflictError, DomainValidationError, PermissionDeniedError
from tradeplatform.request_context import current_request_id

logger = logging.getLogger(__name__)

# Research jobs share the sweeps' queue, so a burst of them never delays anyone's backtest.
ROBUSTNESS_QUEUE = "optimizations"
MAX_ACTIVE_PER_USER = 5

MAX_RUNS = 5_000
MAX_STRATEGIES = 5_000
MAX_CHECKS = 20
MAX_SEED = 2**32 - 1
MONTE_CARLO_METHODS = ("shuffle", "bootstrap", "block_bootstrap")
# Per kind, name: (type, lowest, highest, default). The seed defaults to a fresh random one,
# stored on the run, so every run can be repeated exactly.
BOUNDS: dict[str, dict[str, tuple[type, float, float, Any]]] = {
    RobustnessKind.MONTE_CARLO: {
        "n_runs": (int, 10, MAX_RUNS, 1_000),
        "mean_block_length": (float, 1.0, 1_000.0, 5.0),
    },
    RobustnessKind.RANDOM_ENTRY: {"n_strategies": (int, 10, MAX_STRATEGIES, 1_000)},
    RobustnessKind.LOOKAHEAD: {"n_checks": (int, 1, MAX_CHECKS, 10)},
}


def robustness_submit(
    *, owner: Any, backtest: Backtest, kind: str, parameters: dict[str, Any]
) -> RobustnessRun:
    """Validate the parameters, create the run `queued` and enqueue it on commit.

    Raises PermissionDeniedError (read-only role), ConflictError (the backtest has not
    succeeded; too many active runs), DomainValidationError (kind, parameters, too few trades).
    """
    if not has_role(owner, Role.TRADER):
        raise PermissionDeniedError(
            "Only traders can run robustness tests; your role is read-only."
        )
    if backtest.status != JobStatus.SUCCEEDED:
        raise ConflictError("Only a backtest that finished successfully can be tested.")
    clean = robustness_parameters(kind, parameters)
    _ensure_enough_trades(backtest, kind, clean)
    with transaction.atomic():
        _ensure_active_below_limit(owner)
        run = RobustnessRun.objects.create(
            owner=owner,
            backtest=backtest,
            kind=kind,
            parameters=clean,
            queue=ROBUSTNESS_QUEUE,
            queued_at=timezone.now(),
            request_id=current_request_id() or "",
        )
        job_enqueue_on_commit(
            RobustnessRun, job_id=run.pk, request_id=run.request_id, queue=run.queue
        )
    logger.info("robustness run queued", extra={"robustness_id": run.pk, "kind": kind})
    return run


def robustness_parameters(kind: str, given: dict[str, Any]) -> dict[str, Any]:
    """The run's parameters, each checked against its bounds, defaults filled in.

    Raises DomainValidationError naming every bad field.
    """
    if kind not in RobustnessKind.values:
        raise DomainValidationError(
            "Unknown robustness test.", details={"kind": [f"One of {RobustnessKind.values}."]}
        )
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    allowed = {*BOUNDS[kind], "seed", *(("method",) if kind == RobustnessKind.MONTE_CARLO else ())}
    for name in sorted(set(given) - allowed):
        errors[name] = [f"Not a parameter of this test; use {sorted(allowed)}."]
    for name, (kind_of, lo, hi, default) in BOUNDS[kind].items():
        clean[name] = _bounded(given.get(name, default), kind_of, lo, hi, name, errors)
    clean["seed"] = _bounded(
        given.get("seed", secrets.randbelow(MAX_SEED)), int, 0, MAX_SEED, "seed", errors
    )
    if kind == RobustnessKind.MONTE_CARLO:
        clean["method"] = given.get("method", "shuffle")
        if clean["method"] not in MONTE_CARLO_METHODS:
            errors["method"] = [f"One of {list(MONTE_CARLO_METHODS)}."]
        if clean["method"] != "block_bootstrap":
            clean.pop("mean_block_length", None)
    if errors:
        raise DomainValidationError("The test's parameters are not valid.", details=errors)
    return clean


def _bounded(
    value: Any, kind_of: type, lo: float, hi: float, name: str, errors: dict[str, list[str]]
) -> Any:
    # bool is an int to Python, never a count to a user.
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    # An int is whole already (float() of one past 1e308 would raise, not answer).
    if not numeric or (kind_of is int and isinstance(value, float) and not value.is_integer()):
        errors[name] = [f"Must be {'a whole number' if kind_of is int else 'a number'}."]
        return None
    if not lo <= value <= hi:
        errors[name] = [f"Must be between {lo:,} and {hi:,}."]
        return None
    return kind_of(value)


def _ensure_enough_trades(backtest: Backtest, kind: str, clean: dict[str, Any]) -> None:
    needs_trades = kind == RobustnessKind.RANDOM_ENTRY or (
        kind == RobustnessKind.MONTE_CARLO and clean["method"] != "block_bootstrap"
    )
    if not needs_trades:
        return
    closed = Trade.objects.filter(backtest=backtest, is_open=False, net_pnl__isnull=False).count()
    if closed < 2:
        raise DomainValidationError(
            "This backtest closed fewer than 2 trades: there is nothing to resample.",
            details={"backtest": [f"{closed} closed trades; at least 2 are needed."]},
        )


def _ensure_active_below_limit(owner: Any) -> None:
    active = RobustnessRun.objects.owned_by(owner).filter(status__in=ACTIVE_STATUSES)
    if active.count() >= MAX_ACTIVE_PER_USER:
        raise ConflictError(
            f"You already have {MAX_ACTIVE_PER_USER} robustness tests queued or running; "
            "wait for one to finish or cancel one."
        )


def robustness_cancel(*, run: RobustnessRun) -> RobustnessRun:
    """Cancel a queued run at once, or ask its worker to stop. ConflictError when finished."""
    if job_cancel(run) is CancelOutcome.FINISHED:
        run.refresh_from_db()
        raise ConflictError(f"This test already finished ({run.status}).")
    run.refresh_from_db()
    return run


def robustness_finish_effects(run_id: int, status: str) -> None:
    """The lifecycle's hook once a run reached a final state."""
    logger.info("robustness run finished", extra={"robustness_id": run_id, "status": status})


def robustness_exhausted(run_id: int, attempts: int) -> None:
    # The row already says `failed` with `too_many_attempts`; the dead-letter table holds
    # backtests and webhooks only, so operators find these through the log and the admin.
    logger.error(
        "robustness run exhausted its attempts",
        extra={"robustness_id": run_id, "attempts": attempts},
    )
