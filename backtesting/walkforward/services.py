"""Walk-forward workflows: submit (validate as a sweep does, plus the windows), cancel, and what
follows a final state. Execution (what the worker does) is in backtesting.walkforward.execution;
every status change goes through backtesting.jobs.lifecycle.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.quotas import lock_user_for_quota
from backtesting.engine.research.walkforward import walk_forward_windows
from backtesting.jobs.fields import ACTIVE_STATUSES
from backtesting.jobs.lifecycle import CancelOutcome, job_cancel, job_enqueue_on_commit
from backtesting.marketdata.selectors import Coverage
from backtesting.optimization.models import SpaceKind
from backtesting.optimization.services import (
    OptimizationInput,
    max_combinations,
    search_inputs_validate,
)
from backtesting.optimization.space import Combination, grid_plan, random_plan, sweep_space
from backtesting.walkforward.models import WALKFORWARD_QUEUE, WalkForward, WindowMode
from strategies.paramspec import ParameterSpace
from tradeplatform.errors import ConflictError, DomainValidationError
from tradeplatform.request_context import current_request_id

logger = logging.getLogger(__name__)

MAX_WINDOWS = 100
MAX_ACTIVE_PER_USER = 3
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class WalkForwardInput:
    """A walk-forward request: the sweep every in-sample window runs, and the windows (bars)."""

    sweep: OptimizationInput
    mode: str
    in_sample_bars: int
    out_of_sample_bars: int
    step_bars: int


def walkforward_submit(*, owner: Any, data: WalkForwardInput) -> WalkForward:
    """Validate as a sweep submit does (grid or random space only), check the windows, create
    the job `queued` and enqueue it once the transaction commits.

    Raises PermissionDeniedError (viewers), NotFoundError (strategy not visible),
    DomainValidationError (market inputs, settings, space, constraints, objective, windows),
    ConflictError (too many active walk-forwards), ParameterError.
    """
    sweep = data.sweep
    run = search_inputs_validate(owner=owner, data=sweep, what="walk-forwards")
    coverage, parameters, run_settings = run.coverage, run.parameters, run.settings
    stored_space = walkforward_plan(sweep, parameters)[1]
    _validate_windows(data, coverage, stored_space["total"])
    with transaction.atomic():
        lock_user_for_quota(owner)
        _ensure_active_below_limit(owner)
        walkforward = WalkForward.objects.create(
            owner=owner,
            strategy_version=sweep.strategy_version,
            symbols=sweep.symbols,
            timeframe=sweep.timeframe,
            start=sweep.start,
            end=sweep.end,
            parameters=parameters,
            settings=run_settings,
            space=stored_space,
            constraints=list(sweep.constraints),
            objective=sweep.objective,
            direction=sweep.direction,
            min_trades=sweep.min_trades,
            mode=data.mode,
            in_sample_bars=data.in_sample_bars,
            out_of_sample_bars=data.out_of_sample_bars,
            step_bars=data.step_bars,
            queue=WALKFORWARD_QUEUE,
            queued_at=timezone.now(),
            request_id=current_request_id() or "",
        )
        job_enqueue_on_commit(
            WalkForward,
            job_id=walkforward.pk,
            request_id=walkforward.request_id,
            queue=WALKFORWARD_QUEUE,
        )
    logger.info("walk-forward queued", extra={"walkforward_id": walkforward.pk})
    return walkforward


def walkforward_plan(
    sweep: OptimizationInput | WalkForward, parameters: dict[str, Any]
) -> tuple[list[Combination], dict[str, Any]]:
    """(the combinations every in-sample window runs, the space as stored with its total).

    The same plan for every window: a grid in grid order, or a random plan from its seed.
    Raises DomainValidationError as the sweep's planning does (TPE is not offered here: its
    batches depend on the results of the previous ones, one window at a time would take long).
    """
    version = sweep.strategy_version
    given = sweep.space or {}
    declared = ParameterSpace.from_dicts(version.parameters)
    space = sweep_space(declared, given.get("parameters") or {}, parameters, sweep.constraints)
    kind = given.get("kind", SpaceKind.GRID)
    stored: dict[str, Any] = {"kind": kind, "parameters": given.get("parameters")}
    limit = max_combinations()
    if kind == SpaceKind.GRID:
        plan = grid_plan(space, limit)
    elif kind == SpaceKind.RANDOM:
        samples, seed = given.get("samples"), given.get("seed")
        for key, value, high in (("samples", samples, limit), ("seed", seed, MAX_SEED)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
                raise DomainValidationError(
                    details={"space": {key: f"A whole number 0..{high:,}."}}
                )
        plan = random_plan(space, samples or 1, seed or 0, limit)
        stored.update(samples=samples, seed=seed)
    else:
        raise DomainValidationError(details={"space": {"kind": "grid or random."}})
    stored["total"] = len(plan)
    return plan, stored


def _validate_windows(data: WalkForwardInput, coverage: dict[str, Coverage], total: int) -> None:
    if data.mode not in WindowMode.values:
        raise DomainValidationError(details={"mode": ["rolling or anchored."]})
    exact = all(c.source == data.sweep.timeframe for c in coverage.values())
    # Stored bars of the requested timeframe give the window count now; resampled ones are
    # counted by the worker once it has built the bars (a window that does not fit fails then).
    n_bars = max((c.bar_count for c in coverage.values()), default=0) if exact else 10**9
    try:
        windows = walk_forward_windows(
            n_bars,
            data.in_sample_bars,
            data.out_of_sample_bars,
            data.step_bars,
            anchored=data.mode == WindowMode.ANCHORED,
        )
    except ValueError as exc:
        raise DomainValidationError(
            "The windows are not valid.", details={"windows": [str(exc)]}
        ) from exc
    if exact and len(windows) > MAX_WINDOWS:
        raise DomainValidationError(
            f"These lengths give {len(windows)} windows; at most {MAX_WINDOWS} are allowed.",
            details={"windows": [f"At most {MAX_WINDOWS} windows; take a larger step."]},
        )
    if exact and len(windows) * total > max_combinations() * 10:
        raise DomainValidationError(
            "Too many runs: windows times combinations.",
            details={"windows": [f"{len(windows)} windows x {total} combinations is too many."]},
        )


def _ensure_active_below_limit(owner: Any) -> None:
    active = WalkForward.objects.owned_by(owner).filter(status__in=ACTIVE_STATUSES)
    if active.count() >= MAX_ACTIVE_PER_USER:
        raise ConflictError(
            f"You already have {MAX_ACTIVE_PER_USER} walk-forwards queued or running; "
            "wait for one to finish or cancel one."
        )


def walkforward_cancel(*, walkforward: WalkForward) -> WalkForward:
    """Cancel a queued walk-forward at once, or ask its worker to stop between windows.

    Raises ConflictError when it already finished.
    """
    if job_cancel(walkforward) is CancelOutcome.FINISHED:
        walkforward.refresh_from_db()
        raise ConflictError(f"This walk-forward already finished ({walkforward.status}).")
    walkforward.refresh_from_db()
    return walkforward


def walkforward_finish_effects(walkforward_id: int, status: str) -> None:
    """The lifecycle's hook once a walk-forward reached a final state."""
    logger.info("walk-forward finished", extra={"walkforward_id": walkforward_id, "status": status})


def walkforward_exhausted(walkforward_id: int, attempts: int) -> None:
    # The row already says `failed` with `too_many_attempts`; operators find it in the admin.
    logger.error(
        "walk-forward exhausted its attempts",
        extra={"walkforward_id": walkforward_id, "attempts": attempts},
    )
