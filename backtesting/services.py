"""Backtest workflows: submit, cancel, rerun, delete, and the dead-letter record.

Execution (what the worker does) lives in `backtesting.execution`. Every status change
goes through `backtesting.jobs.lifecycle` (conditional UPDATEs, so the API and the worker
race freely: exactly one wins); this module adds what is specific to backtests.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.access import has_role
from accounts.models import Role
from accounts.quotas import (
    QuotaKind,
    daily_window_start,
    ensure_within_quota,
    lock_user_for_quota,
    quota_for,
)
from backtesting.engine import BacktestSpec, EngineError
from backtesting.jobs import metrics
from backtesting.jobs.lifecycle import (
    CancelOutcome,
    job_cancel,
    job_cancel_flag_key,
    job_enqueue_on_commit,
    job_requeue,
)
from backtesting.marketdata.selectors import Coverage, coverage_versions, series_coverage
from backtesting.marketdata.timeframes import Timeframe
from backtesting.models import (
    Backtest,
    BacktestStatus,
    DeadLetter,
    DeadLetterKind,
)
from backtesting.notifications.services import delivery_requeue
from backtesting.parameters import parameters_resolve
from strategies.models import Strategy, StrategyVersion
from tradeplatform.errors import (
    ConflictError,
    DomainValidationError,
    NotFoundError,
    PermissionDeniedError,
)
from tradeplatform.request_context import current_request_id
from tradeplatform.soft_cache import soft_set

logger = logging.getLogger(__name__)

BACKTEST_QUEUE = "backtests"


@dataclass(frozen=True)
class BacktestInput:
    """What a user asks for; `settings` holds BacktestSpec fields except `params`."""

    strategy_version: StrategyVersion
    symbols: list[str]
    timeframe: str
    start: datetime
    end: datetime
    parameters: dict[str, Any]
    settings: dict[str, Any]


def cancel_flag_key(backtest_id: int) -> str:
    return job_cancel_flag_key(Backtest, backtest_id)


@dataclass(frozen=True)
class ValidatedRun:
    """What a run's inputs resolve to once checked: the data covering each symbol, every
    declared parameter's value, and the settings the engine takes."""

    coverage: dict[str, Coverage]
    parameters: dict[str, Any]
    settings: dict[str, Any]


def run_inputs_validate(*, owner: Any, data: BacktestInput, what: str) -> ValidatedRun:
    """The checks every job that runs a strategy makes before it is created (a backtest, and
    each sweep or walk-forward over its inputs): the owner may run `what`, sees the strategy,
    and the instruments, range, parameters and settings hold.

    Raises PermissionDeniedError, NotFoundError, DomainValidationError, ParameterError.
    """
    if not has_role(owner, Role.TRADER):
        raise PermissionDeniedError(f"Only traders can run {what}; your role is read-only.")
    _ensure_strategy_visible(owner, data.strategy_version)
    coverage = _validate_market_inputs(data)
    parameters = parameters_resolve(data.strategy_version.parameters, data.parameters)
    return ValidatedRun(coverage, parameters, _validated_settings(data.settings, parameters))


def backtest_submit(
    *, owner: Any, data: BacktestInput, rerun_of: Backtest | None = None
) -> Backtest:
    """Validate everything, create the row `queued` and enqueue it once the transaction commits.

    Raises PermissionDeniedError (viewers), NotFoundError (strategy not visible),
    DomainValidationError (dates, timeframe, instruments, data, settings), ParameterError,
    QuotaExceededError (429, concurrent or daily quota).
    """
    run = run_inputs_validate(owner=owner, data=data, what="backtests")
    coverage, parameters, settings = run.coverage, run.parameters, run.settings
    with transaction.atomic():
        # Locking the user row serialises this user's submits: two requests cannot both
        # pass the quota count and exceed it together.
        lock_user_for_quota(owner)
        _ensure_quotas(owner)
        backtest = Backtest.objects.create(
            owner=owner,
            strategy_version=data.strategy_version,
            symbols=data.symbols,
            timeframe=data.timeframe,
            start=data.start,
            end=data.end,
            parameters=parameters,
            settings=settings,
            queue=BACKTEST_QUEUE,
            queued_at=timezone.now(),
            request_id=current_request_id() or "",
            rerun_of=rerun_of,
        )
        backtest.instruments.add(*(c.instrument_id for c in coverage.values()))
        backtest_enqueue_on_commit(
            backtest_id=backtest.pk, request_id=backtest.request_id, queue=backtest.queue
        )
    metrics.BACKTESTS.labels("queued").inc()
    logger.info("backtest queued", extra={"backtest_id": backtest.pk})
    return backtest


def _ensure_strategy_visible(owner: Any, version: StrategyVersion) -> None:
    # Shared strategies may be run by anyone who can read them; archived ones by nobody.
    visible = Strategy.objects.active().visible_to(owner).filter(pk=version.strategy_id)
    if not visible.exists():
        raise NotFoundError("No such strategy.")


def _validate_market_inputs(data: BacktestInput) -> dict[str, Coverage]:
    """Every market-data rule of a submit, checked here once; interfaces only parse."""
    if data.timeframe not in Timeframe._value2member_map_:
        raise DomainValidationError(
            "Unknown timeframe.", details={"timeframe": [f"One of {[t.value for t in Timeframe]}."]}
        )
    if data.start >= data.end:
        raise DomainValidationError(
            "The start must be before the end.", details={"start": ["Must be before end."]}
        )
    if not data.symbols or len(set(data.symbols)) != len(data.symbols):
        raise DomainValidationError(
            "List each instrument once.", details={"instruments": ["Give distinct symbols."]}
        )
    return _covered_in_range(data)


def _covered_in_range(data: BacktestInput) -> dict[str, Coverage]:
    # One aggregate query answers "known?", "which series?" and "any bars?": no bar is loaded.
    # PostgreSQL stores no NUL in text: no instrument has one, and a query naming one fails.
    coverage = series_coverage(
        symbols=[s for s in data.symbols if "\x00" not in s],
        timeframe=data.timeframe,
        start=data.start,
        end=data.end,
    )
    unknown = [s for s in data.symbols if s not in coverage]
    if unknown:
        raise DomainValidationError(
            "Unknown instrument.",
            details={"instruments": dict.fromkeys(unknown, "Unknown instrument.")},
        )
    empty = [s for s in data.symbols if not coverage[s].has_data]
    if empty:
        raise DomainValidationError(
            "No market data in the requested range.",
            details={"instruments": dict.fromkeys(empty, "No bars in this range and timeframe.")},
        )
    return coverage


def _validated_settings(settings: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """Round-trip through BacktestSpec so the stored settings are exactly what the engine takes."""
    if "params" in settings:
        raise DomainValidationError(details={"settings": {"params": "Use `parameters`."}})
    try:
        spec = BacktestSpec.from_dict({**settings, "params": parameters})
    except (EngineError, TypeError, ValueError) as exc:
        raise DomainValidationError(
            "The backtest settings are not valid.", details={"settings": [str(exc)]}
        ) from exc
    out = spec.to_dict()
    out.pop("params")
    return out


def _ensure_quotas(owner: Any) -> None:
    # The concurrent quota doubles as the per-user fairness limit: one user can never hold
    # more than N slots of the shared backtest queue, however fast they submit.
    # A count no limit applies to (superusers, an unlimited role) is not made: the daily one
    # walks every backtest of the owner's day.
    if quota_for(owner, QuotaKind.CONCURRENT_BACKTESTS) is not None:
        active = Backtest.objects.active().owned_by(owner).count()
        ensure_within_quota(owner, QuotaKind.CONCURRENT_BACKTESTS, active)
    if quota_for(owner, QuotaKind.DAILY_BACKTESTS) is not None:
        today = Backtest.objects.owned_by(owner).filter(queued_at__gte=daily_window_start())
        ensure_within_quota(owner, QuotaKind.DAILY_BACKTESTS, today.count())


def backtest_enqueue_on_commit(
    *, backtest_id: int, request_id: str, queue: str, countdown: float | None = None
) -> None:
    """Publish the backtest once the current transaction commits (see job_enqueue_on_commit)."""
    job_enqueue_on_commit(
        Backtest, job_id=backtest_id, request_id=request_id, queue=queue, countdown=countdown
    )


def backtest_cancel(*, backtest: Backtest) -> Backtest:
    """Cancel a queued job at once, or ask the running worker to stop (it kills the sandbox).

    Raises ConflictError when the backtest already finished.
    """
    outcome = job_cancel(backtest)
    if outcome is CancelOutcome.CANCELLED:
        metrics.BACKTESTS.labels("cancelled").inc()
    elif outcome is CancelOutcome.FINISHED:
        backtest.refresh_from_db()
        raise ConflictError(f"This backtest already finished ({backtest.status}).")
    backtest.refresh_from_db()
    return backtest


def backtest_rerun(*, backtest: Backtest, owner: Any) -> Backtest:
    """Run the same inputs again as a new backtest (its `rerun_of` points to the original)."""
    data = BacktestInput(
        strategy_version=backtest.strategy_version,
        symbols=list(backtest.symbols),
        timeframe=backtest.timeframe,
        start=backtest.start,
        end=backtest.end,
        parameters=dict(backtest.parameters),
        settings=dict(backtest.settings),
    )
    return backtest_submit(owner=owner, data=data, rerun_of=backtest)


def data_changed_since(backtest: Backtest) -> bool | None:
    """Whether the market data behind `backtest` changed since it ran (None: never ran)."""
    if not backtest.data_versions:
        return None
    coverage = series_coverage(
        symbols=list(backtest.symbols),
        timeframe=backtest.timeframe,
        start=backtest.start,
        end=backtest.end,
    )
    return coverage_versions(coverage) != backtest.data_versions


def backtest_delete(*, backtest: Backtest) -> None:
    """Delete a backtest and its results; a running one is told to stop first."""
    if backtest.status == BacktestStatus.RUNNING:
        # The worker's lease renewal will find no row and kill the sandbox; the flag only
        # makes that sooner, so a cache outage must not block the delete.
        soft_set(cancel_flag_key(backtest.pk), True, timeout=24 * 3600)
    backtest.delete()


def dead_letter_record(
    *,
    kind: str,
    task_name: str,
    task_args: list[Any],
    error: str,
    request_id: str = "",
    attempts: int = 0,
    backtest_id: int | None = None,
    delivery_id: int | None = None,
) -> DeadLetter:
    """Store a job that exhausted its retries, for operators to see and requeue."""
    letter = DeadLetter.objects.create(
        kind=kind,
        task_name=task_name,
        task_args=task_args,
        error=error[:10_000],
        request_id=request_id,
        attempts=attempts,
        backtest_id=backtest_id,
        delivery_id=delivery_id,
    )
    metrics.DEAD_LETTERS.labels(kind).inc()
    if kind == DeadLetterKind.BACKTEST and backtest_id:
        _backtest_fail_for_infrastructure(backtest_id, letter.error)
    logger.error(
        "job dead-lettered",
        extra={"dead_letter_id": letter.pk, "task": task_name, "job_request_id": request_id},
    )
    return letter


def _backtest_fail_for_infrastructure(backtest_id: int, error: str) -> None:
    # The last attempt released its claim (`queued`); ending the row `failed` tells the user and
    # keeps the recovery sweep from re-running, forever, a job that operators now own.
    if Backtest.objects.filter(pk=backtest_id, status=BacktestStatus.QUEUED).update(
        status=BacktestStatus.FAILED,
        finished_at=timezone.now(),
        lease_expires_at=None,
        error_code="infrastructure",
        error_message="Our infrastructure failed repeatedly while running this backtest; "
        "operators were notified and can requeue it.",
        error_details={"error": error[:1000]},
    ):
        metrics.BACKTESTS.labels("failed").inc()


def dead_letter_requeue(*, dead_letter: DeadLetter, user: Any) -> DeadLetter:
    """Put a dead-lettered job back on its queue. Raises ConflictError if already requeued."""
    with transaction.atomic():
        updated = DeadLetter.objects.filter(pk=dead_letter.pk, requeued_at__isnull=True).update(
            requeued_at=timezone.now(), requeued_by=user
        )
        if not updated:
            raise ConflictError("This job was already requeued.")
        if dead_letter.kind == DeadLetterKind.BACKTEST and dead_letter.backtest_id:
            _backtest_requeue(dead_letter.backtest_id)
        elif dead_letter.kind == DeadLetterKind.WEBHOOK and dead_letter.delivery_id:
            delivery_requeue(delivery_id=dead_letter.delivery_id)
    dead_letter.refresh_from_db()
    return dead_letter


def _backtest_requeue(backtest_id: int) -> None:
    # Only a job that is not done: the sweep or a late delivery may have finished it since.
    if not job_requeue(Backtest, job_id=backtest_id):
        status = Backtest.objects.filter(pk=backtest_id).values_list("status", flat=True).first()
        raise ConflictError(f"This backtest is {status or 'gone'}; there is nothing to requeue.")


def backtest_dead_letter_exhausted(backtest_id: int, attempts: int) -> None:
    """Dead-letter a backtest the attempt cap ended `failed` (the lifecycle's `exhausted` hook)."""
    row = Backtest.objects.values("request_id").get(pk=backtest_id)
    dead_letter_record(
        kind=DeadLetterKind.BACKTEST,
        task_name="backtesting.backtest_execute",
        task_args=[backtest_id],
        error=f"Claimed {attempts} times without finishing (BACKTEST_MAX_ATTEMPTS).",
        request_id=row["request_id"],
        attempts=attempts,
        backtest_id=backtest_id,
    )
