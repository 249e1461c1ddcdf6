"""What a worker does with one chunk of a sweep: claim it, run its combinations in one sandbox
child over bars loaded once, store one row per combination, end the chunk.

Idempotent under at-least-once delivery: the claim is the shared lifecycle's (a duplicate
message finds the chunk running or finished and does nothing; a dead worker's chunk is
re-claimed once its lease expires); combinations already stored are skipped, and rows are
inserted with ON CONFLICT DO NOTHING on (optimization, index), so nothing counts twice.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connections, router, transaction
from django.utils import timezone

from backtesting import sandbox
from backtesting.bars import bars_for_backtest
from backtesting.engine.research.ranking import objective_value
from backtesting.jobs.bounds import MAX_MESSAGE_CHARS, text_bound
from backtesting.jobs.fields import JobStatus
from backtesting.jobs.lifecycle import ClaimOutcome, JobClaim, error_fields, job_claim_row
from backtesting.optimization.finish import sandbox_limits
from backtesting.optimization.models import (
    Optimization,
    OptimizationChunk,
    OptimizationResult,
    ResultStatus,
)
from strategies.paramspec import ParameterSpace

logger = logging.getLogger(__name__)
Pending = list[tuple[int, dict[str, Any]]]
Row = dict[str, Any]  # an OptimizationResult's fields but its sweep


def optimization_chunk_execute(*, chunk_id: int) -> OptimizationChunk | None:
    """Claim, run and store one chunk; returns it in its final state (None if gone).

    A chunk failing through the user's code (or a sandbox limit) stores its combinations as
    failed rows with the message and ends `failed`; the other chunks are untouched. Database
    and broker errors release the claim and propagate, so the task retries them.
    """
    token = uuid.uuid4().hex
    # The claim's own locked read brings the chunk's sweep and strategy: no second SELECT.
    outcome, chunk = job_claim_row(
        OptimizationChunk, job_id=chunk_id, token=token, related=("optimization__strategy_version",)
    )
    if outcome is not ClaimOutcome.CLAIMED:
        ended = OptimizationChunk.objects.filter(pk=chunk_id).first()
        if outcome is ClaimOutcome.NOT_CLAIMABLE and ended is not None and ended.is_finished:
            # A redelivery of a chunk that ended: its attempt may have died (or its database
            # call failed) between the chunk's commit and the sweep's advance, which nothing
            # else would run again. The advance is idempotent (the sweep's row lock, its
            # conditional end), so it runs again here.
            _sweep_advance(ended.optimization_id)
        return ended
    claim = JobClaim(OptimizationChunk, chunk_id, token)
    if chunk.optimization.status == JobStatus.QUEUED:  # the first chunks only: one query less
        Optimization.objects.filter(pk=chunk.optimization_id, status=JobStatus.QUEUED).update(
            status=JobStatus.RUNNING, started_at=timezone.now()
        )
    # A first attempt finds nothing stored, so it does not ask: a chunk's rows are written by
    # its own attempts and by chunk_exhausted once it ended `failed`, and an ended chunk is
    # never claimed again (job_requeue, which would reset its attempts, is not offered for
    # chunks). Were a row there all the same, ON CONFLICT DO NOTHING keeps it counted once: a
    # wrong guess only runs a combination again.
    pending = _combinations(chunk) if chunk.attempts == 1 else _pending(chunk)
    try:
        if pending:
            _run_and_store(chunk, pending, claim)
            return chunk  # as _run_and_store wrote it; its sweep as read at the claim
        claim.finish(JobStatus.SUCCEEDED, progress=1.0)
    except SoftTimeLimitExceeded:
        limit = settings.BACKTEST_SOFT_TIME_LIMIT
        _fail(chunk, pending, claim, "time_limit", f"The chunk ran longer than {limit} s.")
    except sandbox.SandboxCancelledError:
        claim.finish(JobStatus.CANCELLED, error_code="cancelled", error_message="Cancelled.")
    except sandbox.SandboxError as exc:
        _fail(chunk, pending, claim, exc.code, exc.message)
    except BaseException:
        claim.release()
        raise
    return OptimizationChunk.objects.filter(pk=chunk_id).first()


def _combinations(chunk: OptimizationChunk) -> Pending:
    return [(index, params) for index, params in chunk.combinations]


def _pending(chunk: OptimizationChunk) -> Pending:
    """The chunk's combinations that have no row yet (all of them but after a redelivery)."""
    stored = set(
        OptimizationResult.objects.filter(
            optimization_id=chunk.optimization_id,
            index__in=[index for index, _ in chunk.combinations],
        ).values_list("index", flat=True)
    )
    return [pair for pair in _combinations(chunk) if pair[0] not in stored]


def _run_and_store(chunk: OptimizationChunk, pending: Pending, claim: JobClaim) -> None:
    optimization = chunk.optimization
    bars = bars_for_backtest(
        symbols=list(optimization.symbols),
        timeframe=optimization.timeframe,
        start=optimization.start,
        end=optimization.end,
    ).bars
    batch = sandbox.run_strategy_batch_in_sandbox(
        optimization.strategy_version.code,
        optimization.spec_dict(),
        bars,
        [{**optimization.parameters, **params} for _, params in pending],
        ParameterSpace.from_dicts(optimization.strategy_version.parameters),
        limits=sandbox_limits(),
        on_progress=lambda done, total: claim.on_progress(done / max(total, 1)),
        should_cancel=claim.should_cancel,
        timeframe=optimization.timeframe,
    )
    if claim.lost:
        raise sandbox.SandboxCancelledError()
    rows = [
        _row(optimization, index, params, item)
        for (index, params), item in zip(pending, batch.items, strict=True)
    ]
    # The rows and the chunk's success commit together: one commit less per chunk, and an
    # attempt that is no longer ours (re-claimed or deleted meanwhile) stores nothing.
    with transaction.atomic():
        _rows_insert(optimization.pk, rows)
        finished_at = claim.mark_succeeded()
        if finished_at is None:
            raise sandbox.SandboxCancelledError()
    # What mark_succeeded wrote: the caller gets the final row without reading it again.
    chunk.status, chunk.progress, chunk.finished_at = JobStatus.SUCCEEDED, 1.0, finished_at
    chunk.lease_expires_at = None
    # The finish effects (chunk_finish_effects) with the sweep already known.
    _sweep_advance(chunk.optimization_id)


def _row(
    optimization: Optimization, index: int, params: dict[str, Any], item: sandbox.BatchItemResult
) -> Row:
    if item.ok and item.metrics is not None:
        n_trades = item.metrics.get("n_trades")
        return {
            "index": index,
            "parameters": params,
            "status": ResultStatus.OK,
            "objective": objective_value(item.metrics, optimization.objective),
            "n_trades": int(n_trades) if isinstance(n_trades, int) else None,
            "metrics": item.metrics,
            "error_message": "",
        }
    message = item.error.message if item.error else "This combination failed."
    return _failed_row(index, params, message)


def _failed_row(index: int, params: dict[str, Any], message: str) -> Row:
    return {
        "index": index,
        "parameters": params,
        "status": ResultStatus.FAILED,
        "objective": None,
        "n_trades": None,
        "metrics": {},
        "error_message": text_bound(message, MAX_MESSAGE_CHARS),
    }


# One parameter for all the rows: Django's bulk insert on PostgreSQL quotes every value into a
# per-column array in Python (psycopg's client-side binding, a regex substitution per quote of
# every metrics document), ~3 ms of the worker's CPU for 45 rows against ~0.7 ms for one JSON
# document. The objective travels as its repr, which float8 parses back to the same bits
# (-0.0 and infinities too; a JSON number would pass through numeric, which has neither).
_INSERT_SQL = """
INSERT INTO optimization_optimizationresult
    (optimization_id, "index", parameters, status, objective, n_trades, metrics, error_message)
SELECT %s, r."index", r.parameters, r.status, r.objective, r.n_trades, r.metrics,
       r.error_message
FROM jsonb_to_recordset(%s::jsonb) AS r(
    "index" integer, parameters jsonb, status varchar, objective double precision,
    n_trades integer, metrics jsonb, error_message text)
ON CONFLICT (optimization_id, "index") DO NOTHING
"""


def _rows_insert(optimization_id: int, rows: list[Row]) -> None:
    """Store the rows in one statement; a combination already stored keeps its row."""
    if not rows:
        return
    database = connections[router.db_for_write(OptimizationResult)]
    if database.vendor != "postgresql":
        OptimizationResult.objects.bulk_create(
            [OptimizationResult(optimization_id=optimization_id, **row) for row in rows],
            ignore_conflicts=True,
        )
        return
    document = [{**row, "objective": _float_text(row["objective"])} for row in rows]
    with database.cursor() as cursor:
        cursor.execute(_INSERT_SQL, [optimization_id, json.dumps(document)])


def _float_text(value: float | None) -> str | None:
    return None if value is None else repr(float(value))


def _fail(
    chunk: OptimizationChunk, pending: Pending, claim: JobClaim, code: str, message: str
) -> None:
    """Every combination of the chunk not yet stored fails with the message, and the chunk.

    Both in one transaction and only while the claim is ours, as for a success: an attempt
    that lost its claim (re-claimed after its lease ran out) must not write failed rows that
    the live attempt's results would then meet as conflicts and be dropped for.
    """
    with transaction.atomic():
        if not claim.mark_ended(JobStatus.FAILED, **error_fields(code, message)):
            return
        _rows_insert(chunk.optimization_id, [_failed_row(i, p, message) for i, p in pending])
    _sweep_advance(chunk.optimization_id)


def chunk_finish_effects(chunk_id: int, status: str) -> None:
    """The lifecycle's hook once a chunk ended: let its sweep advance (or end)."""
    row = OptimizationChunk.objects.filter(pk=chunk_id).values("optimization_id").first()
    if row is not None:
        _sweep_advance(row["optimization_id"])


def _sweep_advance(optimization_id: int) -> None:
    from backtesting.optimization.services import optimization_advance

    optimization_advance(optimization_id=optimization_id)


def chunk_exhausted(chunk_id: int, attempts: int) -> None:
    """The attempt cap ended a chunk `failed` (its workers kept dying): its rows fail with it,
    so the sweep still finishes with every other chunk's results."""
    chunk = OptimizationChunk.objects.filter(pk=chunk_id).first()
    if chunk is None:
        return
    message = f"Our workers were lost {attempts} times while running these combinations."
    _rows_insert(chunk.optimization_id, [_failed_row(i, p, message) for i, p in _pending(chunk)])
    logger.error("optimization chunk exhausted", extra={"chunk_id": chunk_id})
