"""Sweep workflows: submit (plan and enqueue the chunks), cancel, advance, finish, backtest-this.

Chunks are jobs on the shared lifecycle (backtesting.jobs); this module only decides what a
sweep runs and what follows when its chunks end. `optimization_advance` runs as each chunk's
finish effect: once no chunk is active it either asks the next TPE batch or ends the sweep.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.quotas import lock_user_for_quota
from backtesting.engine.research.ranking import DIRECTIONS, OBJECTIVES, objective_value
from backtesting.jobs.fields import ACTIVE_STATUSES, JobStatus
from backtesting.jobs.lifecycle import job_cancel, job_enqueue_on_commit
from backtesting.models import Backtest
from backtesting.optimization.models import (
    OPTIMIZATION_QUEUE,
    Optimization,
    OptimizationChunk,
    OptimizationResult,
    ResultStatus,
    SpaceKind,
)
from backtesting.optimization.space import (
    Combination,
    SweepSpace,
    grid_plan,
    random_plan,
    sweep_space,
    tpe_ask,
)
from backtesting.services import (
    BacktestInput,
    ValidatedRun,
    backtest_submit,
    run_inputs_validate,
)
from strategies.models import StrategyVersion
from strategies.paramspec import ParameterSpace
from strategies.validation import SIGNALS_STYLE, strategy_style
from tradeplatform.errors import ConflictError, DomainValidationError
from tradeplatform.request_context import current_request_id

logger = logging.getLogger(__name__)

# Never more chunks than chunks of this many combinations: a plan's chunks are rows and tasks.
DEFAULT_CHUNK_SIZE = 25
# A chunk is sized to about this much work in its sandbox child: its fixed cost (a claim, a
# child, the bars, the rows' commit: tens of ms) is then a few percent of it, while progress
# still moves, a cancel stops it within its poll and a lost worker's redo stays cheap.
CHUNK_SECONDS = 1.0
# What one combination costs in a sandbox child, roughly (docs/research.md, "Chunks"): a
# signals() strategy runs NumPy over whole arrays, a fixed ~0.4 ms (its module, the engine's
# set-up, the headline statistics) plus ~30 ns a bar; a next() strategy runs Python for every
# bar, ~10 us a bar. A misjudged strategy only gets chunks a few times longer or shorter.
SIGNALS_COMBINATION_SECONDS = 0.4e-3
SIGNALS_BAR_SECONDS = 30e-9
NEXT_BAR_SECONDS = 10e-6
MAX_SEED = 2**31 - 1


def max_combinations() -> int:
    """The most combinations one sweep may run (OPTIMIZATION_MAX_COMBINATIONS, default 5,000)."""
    return int(settings.OPTIMIZATION_MAX_COMBINATIONS)


@dataclass(frozen=True)
class OptimizationInput:
    """A sweep request: a backtest's inputs plus the space, constraints and objective."""

    strategy_version: StrategyVersion
    symbols: list[str]
    timeframe: str
    start: datetime
    end: datetime
    parameters: dict[str, Any]  # values of the parameters that are not swept
    settings: dict[str, Any]
    space: dict[str, Any]
    constraints: list[str]
    objective: str
    direction: str = "max"
    min_trades: int = 0

    def as_backtest(self) -> BacktestInput:
        return BacktestInput(
            strategy_version=self.strategy_version,
            symbols=self.symbols,
            timeframe=self.timeframe,
            start=self.start,
            end=self.end,
            parameters=self.parameters,
            settings=self.settings,
        )


def optimization_submit(*, owner: Any, data: OptimizationInput) -> Optimization:
    """Validate as a backtest submit does, plan the sweep, create it `queued` with its chunks and
    enqueue them once the transaction commits.

    Raises PermissionDeniedError (viewers), NotFoundError (strategy not visible),
    DomainValidationError (market inputs, settings, space, constraints with their column,
    objective, too many combinations), ParameterError.
    """
    run = search_inputs_validate(owner=owner, data=data, what="sweeps")
    parameters, run_settings = run.parameters, run.settings
    space, plan, stored_space = _plan(data, parameters)
    chunk_size = chunk_size_for(
        len(plan) if plan is not None else _first_batch_size(stored_space),
        bars=sum(coverage.bar_count for coverage in run.coverage.values()),
        fan_out=int(settings.OPTIMIZATION_USER_MAX_RUNNING),
        style=strategy_style(data.strategy_version.code),
    )
    with transaction.atomic():
        lock_user_for_quota(owner)
        optimization = Optimization.objects.create(
            owner=owner,
            strategy_version=data.strategy_version,
            symbols=data.symbols,
            timeframe=data.timeframe,
            start=data.start,
            end=data.end,
            parameters=parameters,
            settings=run_settings,
            space=stored_space,
            constraints=list(data.constraints),
            objective=data.objective,
            direction=data.direction,
            min_trades=data.min_trades,
            total=stored_space["total"],
            chunk_size=chunk_size,
            queue=OPTIMIZATION_QUEUE,
            queued_at=timezone.now(),
            request_id=current_request_id() or "",
        )
        if plan is None:  # TPE: the first batch is asked with nothing told yet
            plan = tpe_ask(
                space,
                seed=stored_space["seed"],
                batch=0,
                k=_batch_size(optimization),
                told=[],
                direction=data.direction,
            )
        _chunks_create(optimization, plan, first_index=0)
    logger.info("optimization queued", extra={"optimization_id": optimization.pk})
    return optimization


def search_inputs_validate(*, owner: Any, data: OptimizationInput, what: str) -> ValidatedRun:
    """A parameter search's checks: those of a backtest over its inputs, then its objective."""
    run = run_inputs_validate(owner=owner, data=data.as_backtest(), what=what)
    _validate_objective(data)
    return run


def _validate_objective(data: OptimizationInput) -> None:
    problems = {}
    if data.objective not in OBJECTIVES:
        problems["objective"] = [f"One of {', '.join(OBJECTIVES)}."]
    if data.direction not in DIRECTIONS:
        problems["direction"] = ["max or min."]
    if not 0 <= data.min_trades <= 1_000_000:
        problems["min_trades"] = ["0 to 1,000,000."]
    if problems:
        raise DomainValidationError("The objective is not valid.", details=problems)


def _plan(
    data: OptimizationInput, parameters: dict[str, Any]
) -> tuple[SweepSpace, list[Combination] | None, dict[str, Any]]:
    """(space, the whole plan or None for TPE, the space as stored with its total)."""
    declared = ParameterSpace.from_dicts(data.strategy_version.parameters)
    given = data.space or {}
    space = sweep_space(declared, given.get("parameters") or {}, parameters, data.constraints)
    kind = given.get("kind", SpaceKind.GRID)
    stored = {"kind": kind, "parameters": given.get("parameters")}
    limit = max_combinations()
    if kind == SpaceKind.GRID:
        plan: list[Combination] | None = grid_plan(space, limit)
        stored["total"] = len(plan or [])
        return space, plan, stored
    if kind not in (SpaceKind.RANDOM, SpaceKind.TPE):
        raise DomainValidationError(details={"space": {"kind": "grid, random or tpe."}})
    samples, seed = _int_field(given, "samples", 1, limit), _int_field(given, "seed", 0, MAX_SEED)
    stored.update(samples=samples, seed=seed, total=samples)
    if kind == SpaceKind.RANDOM:
        return space, random_plan(space, samples, seed, limit), stored
    stored["batch_size"] = _int_field({"b": given.get("batch_size", 25)}, "b", 1, 500)
    return space, None, stored


def _int_field(given: dict[str, Any], key: str, low: int, high: int) -> int:
    value = given.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DomainValidationError(details={"space": {key: f"A whole number {low}..{high:,}."}})
    return value


def _batch_size(optimization: Optimization) -> int:
    return _first_batch_size(optimization.space)


def _first_batch_size(space: dict[str, Any]) -> int:
    return min(int(space.get("batch_size") or 25), space["total"])


def combination_seconds(bars: int, style: str | None) -> float:
    """The estimated time of one combination over `bars` bars in all (see the constants)."""
    if style == SIGNALS_STYLE:
        return SIGNALS_COMBINATION_SECONDS + SIGNALS_BAR_SECONDS * bars
    return NEXT_BAR_SECONDS * max(bars, 1)


def chunk_size_for(n: int, *, bars: int, fan_out: int, style: str | None) -> int:
    """Combinations per chunk for a plan of `n` combinations over `bars` bars in all, of a
    strategy of `style` ("signals", "next"; None counts as "next", the costlier).

    About CHUNK_SECONDS of work a chunk, never fewer than DEFAULT_CHUNK_SIZE combinations, and a
    chunk count that is a multiple of `fan_out` (the chunks of one owner that run at once,
    OPTIMIZATION_USER_MAX_RUNNING), so the sweep spreads over that many workers and they end
    together. `fan_out` 0 (no limit) says nothing of the worker count: chunks of
    DEFAULT_CHUNK_SIZE then, as they always were.
    """
    most = -(-n // DEFAULT_CHUNK_SIZE)
    if fan_out < 1 or most <= fan_out:
        return DEFAULT_CHUNK_SIZE
    largest = max(DEFAULT_CHUNK_SIZE, int(CHUNK_SECONDS / combination_seconds(bars, style)))
    needed = -(-n // largest)
    count = min(most, -(-needed // fan_out) * fan_out)
    return -(-n // count)


def even_chunks(n: int, max_size: int) -> list[tuple[int, int]]:
    """[begin, end) bounds of the fewest chunks of at most `max_size` that hold `n` items, their
    sizes differing by at most one: 90 at 25 is 23, 23, 22, 22 rather than 25, 25, 25, 15, so
    workers taking chunks in turn end together instead of one waiting on a long last chunk."""
    count = -(-n // max_size)
    base, extra = divmod(n, count) if count else (0, 0)
    bounds, begin = [], 0
    for k in range(count):
        end = begin + base + (1 if k < extra else 0)
        bounds.append((begin, end))
        begin = end
    return bounds


def _chunks_create(
    optimization: Optimization, plan: list[Combination], *, first_index: int
) -> list[OptimizationChunk]:
    """Chunks of `plan` (combination indexes from `first_index`), each enqueued on commit."""
    first_number = optimization.chunks.count()
    chunks = []
    for number, (begin, end) in enumerate(even_chunks(len(plan), optimization.chunk_size)):
        combinations = [
            [first_index + begin + i, combination] for i, combination in enumerate(plan[begin:end])
        ]
        chunks.append(
            OptimizationChunk(
                owner_id=optimization.owner_id,
                optimization=optimization,
                number=first_number + number,
                combinations=combinations,
                queue=OPTIMIZATION_QUEUE,
                queued_at=timezone.now(),
                request_id=optimization.request_id,
            )
        )
    OptimizationChunk.objects.bulk_create(chunks)  # one INSERT for the sweep (PostgreSQL sets pk)
    for chunk in chunks:
        job_enqueue_on_commit(
            OptimizationChunk, job_id=chunk.pk, request_id=chunk.request_id, queue=chunk.queue
        )
    return chunks


def optimization_cancel(*, optimization: Optimization) -> Optimization:
    """Stop every chunk: queued ones end at once, running ones at their next cancel poll
    (between combinations). Raises ConflictError when the sweep already finished."""
    updated = Optimization.objects.filter(pk=optimization.pk, status__in=ACTIVE_STATUSES).update(
        cancel_requested=True
    )
    if not updated:
        optimization.refresh_from_db()
        raise ConflictError(f"This sweep already finished ({optimization.status}).")
    # Queued chunks end at once; a running one's worker ends it, and its finish effect
    # (optimization_advance) then ends the sweep.
    for chunk in optimization.chunks.filter(status__in=ACTIVE_STATUSES):
        job_cancel(chunk)
    optimization_advance(optimization_id=optimization.pk)
    optimization.refresh_from_db()
    return optimization


def optimization_advance(*, optimization_id: int) -> None:
    """After a chunk ended: update progress; once no chunk is active, ask the next TPE batch
    or end the sweep (cancelled, or finished with its best combination and DSR)."""
    with transaction.atomic():
        # The row lock makes two chunks ending together decide one after the other.
        # FOR NO KEY UPDATE: it serialises the advances, yet another chunk committing its rows
        # (whose foreign key takes FOR KEY SHARE on this row) is not made to wait for it.
        optimization = (
            Optimization.objects.select_for_update(no_key=True).filter(pk=optimization_id).first()
        )
        if optimization is None or optimization.is_finished:
            return
        stored = optimization.results.count()
        progress = min(stored / max(optimization.total, 1), 1.0)
        Optimization.objects.filter(pk=optimization_id).update(progress=progress)
        if optimization.chunks.filter(status__in=ACTIVE_STATUSES).exists():
            return
        if optimization.cancel_requested:
            _end(
                optimization_id,
                JobStatus.CANCELLED,
                error_code="cancelled",
                error_message="Cancelled by the user.",
            )
            return
        tpe = optimization.space.get("kind") == SpaceKind.TPE
        if tpe and stored < optimization.total and _tpe_next_batch(optimization, stored):
            return
    from backtesting.optimization.finish import optimization_finish

    optimization_finish(optimization_id=optimization_id)


def _tpe_next_batch(optimization: Optimization, stored: int) -> bool:
    """Tell every stored trial back and create the next batch's chunks; False if none left."""
    rows = optimization.results.order_by("index").values_list("parameters", "status", "metrics")
    told = [
        (params, _told_value(optimization, status, metrics)) for params, status, metrics in rows
    ]
    k = min(_batch_size(optimization), optimization.total - stored)
    batch = stored // max(_batch_size(optimization), 1)
    space = sweep_space(
        ParameterSpace.from_dicts(optimization.strategy_version.parameters),
        optimization.space["parameters"],
        optimization.parameters,
        optimization.constraints,
    )
    plan = tpe_ask(
        space,
        seed=optimization.space["seed"],
        batch=batch,
        k=k,
        told=told,
        direction=optimization.direction,
    )
    if not plan:
        Optimization.objects.filter(pk=optimization.pk).update(total=stored)
        return False
    if len(plan) < k:  # the constraints leave nothing more to propose
        Optimization.objects.filter(pk=optimization.pk).update(total=stored + len(plan))
    _chunks_create(optimization, plan, first_index=stored)
    return True


def _told_value(optimization: Optimization, status: str, metrics: dict[str, Any]) -> float | None:
    # A failed combination, or one with too few trades to rank, is a failed trial for TPE.
    if status != ResultStatus.OK or (metrics.get("n_trades") or 0) < optimization.min_trades:
        return None
    return objective_value(metrics, optimization.objective)


def _end(optimization_id: int, status: str, **fields: Any) -> bool:
    return bool(
        Optimization.objects.filter(pk=optimization_id, status__in=ACTIVE_STATUSES).update(
            status=status, finished_at=timezone.now(), lease_expires_at=None, **fields
        )
    )


def optimization_result_backtest(
    *, optimization: Optimization, result: OptimizationResult, owner: Any
) -> Backtest:
    """A normal backtest of one combination (the sweep's inputs with its parameters)."""
    data = BacktestInput(
        strategy_version=optimization.strategy_version,
        symbols=list(optimization.symbols),
        timeframe=optimization.timeframe,
        start=optimization.start,
        end=optimization.end,
        parameters={**optimization.parameters, **result.parameters},
        settings=dict(optimization.settings),
    )
    return backtest_submit(owner=owner, data=data)
