"""What a worker does with one backtest: claim it, run it in the sandbox, store the outcome.

Callable without Celery (tests and benchmarks call `backtest_execute` directly). The task in
backtesting/tasks.py only maps exceptions to retries.

Delivery is at-least-once (acks_late + reject on worker loss, plus the recovery sweep in
backtesting.jobs.recovery re-publishing jobs whose message was lost), so this is idempotent:
- a finished row is left alone (a second delivery does nothing);
- a `running` row whose lease is live belongs to a live worker: this delivery does nothing.
  If that worker dies, its lease expires and the recovery sweep publishes the job again;
- a `running` row whose lease expired is re-claimed with a new token; its old worker, if it
  was only slow, can no longer write (every write is conditional on the token).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction

from backtesting import sandbox
from backtesting.bars import bars_for_backtest
from backtesting.chart_data import RunOutputs, backtest_charts_prepare
from backtesting.curves import curve_encode
from backtesting.engine.barcodec import VERSION as BAR_CODEC_VERSION
from backtesting.engine.barcodec import fingerprint_bars
from backtesting.indicator_arrays import indicators_encode
from backtesting.jobs import metrics
from backtesting.jobs.bounds import (
    MAX_LOG_CHARS,
    text_bound,
)
from backtesting.jobs.lifecycle import ClaimOutcome, JobClaim, job_claim_row
from backtesting.models import Backtest, BacktestResult, BacktestStatus, Trade
from backtesting.notifications.services import notifications_enqueue
from backtesting.results import ResultNotStorableError, trades_from_result
from backtesting.services import cancel_flag_key
from tradeplatform.soft_cache import soft_delete

logger = logging.getLogger(__name__)


def backtest_execute(*, backtest_id: int) -> Backtest | None:
    """backtest_run, then the row in its final state (None if the row is gone)."""
    backtest_run(backtest_id=backtest_id)
    return Backtest.objects.filter(pk=backtest_id).first()


def backtest_run(*, backtest_id: int) -> None:
    """Claim, run and store one backtest (what the task does).

    A row that is finished, cancelled, gone or owned by a live worker is left untouched; one
    whose owner already runs their share stays `queued` and comes back later (see
    backtesting.jobs.lifecycle). A result that cannot be stored ends the job `failed`
    (`result_not_storable`), never retried. Database/broker errors propagate so the task can
    retry them.
    """
    claimed = _claim(backtest_id)
    if claimed is None:
        return
    backtest, claim = claimed
    metrics.QUEUE_WAIT.labels(backtest.queue).observe(
        max(((backtest.started_at or backtest.queued_at) - backtest.queued_at).total_seconds(), 0.0)
    )
    try:
        _run_and_store(backtest, claim)
    except SoftTimeLimitExceeded:
        limit = settings.BACKTEST_SOFT_TIME_LIMIT
        claim.fail(BacktestStatus.FAILED, "time_limit",
                f"The backtest ran longer than the {limit} s limit and was stopped.")  # fmt: skip
    except sandbox.SandboxCancelledError:
        claim.fail(BacktestStatus.CANCELLED, "cancelled", "Cancelled by the user.")
    except sandbox.SandboxError as exc:
        metrics.SANDBOX_FAILURES.labels(exc.code).inc()
        claim.fail(BacktestStatus.FAILED, exc.code, exc.message, exc.to_dict())
    except ResultNotStorableError as exc:
        details = {"code": exc.code, "message": exc.message}
        claim.fail(BacktestStatus.FAILED, exc.code, exc.message, details)
    except BaseException:
        claim.release()  # give the row back so the retry can claim it without waiting
        raise


def _claim(backtest_id: int) -> tuple[Backtest, JobClaim] | None:
    """The claimed row with its strategy version (the claim's own read), or None."""
    token = uuid.uuid4().hex
    outcome, backtest = job_claim_row(
        Backtest, job_id=backtest_id, token=token, related=("strategy_version",)
    )
    if outcome is ClaimOutcome.CLAIMED:
        return backtest, JobClaim(Backtest, backtest_id, token)
    if outcome is ClaimOutcome.NOT_CLAIMABLE:
        # A duplicate message (Redis redelivery, a recovery re-publish racing the original)
        # must be a no-op, not a retry loop: if the owner dies, the sweep publishes again.
        row = Backtest.objects.filter(pk=backtest_id).values("status", "lease_expires_at").first()
        logger.info(
            "backtest not claimable; nothing to do",
            extra={"backtest_id": backtest_id, **(row or {})},
        )
    return None


def _run_and_store(backtest: Backtest, claim: JobClaim) -> None:
    timings: dict[str, float] = {}
    with _timed(timings, "data_load_ms"):
        # Bars and versions from one snapshot: the stored versions describe these very bars.
        snapshot = bars_for_backtest(
            symbols=list(backtest.symbols),
            timeframe=backtest.timeframe,
            start=backtest.start,
            end=backtest.end,
        )
        bars, versions = snapshot.bars, snapshot.versions
        fingerprint = fingerprint_bars(backtest.timeframe, bars)
    with _timed(timings, "sandbox_ms"):
        result = run_sandboxed(backtest, bars, claim.on_progress, claim.should_cancel)
    if claim.lost:
        raise sandbox.SandboxCancelledError()
    n_bars = sum(len(b) for b in bars.values())
    write_started = time.perf_counter()
    outputs = _store_result(
        backtest, claim, result, (fingerprint, versions, n_bars), (timings, write_started)
    )
    if outputs is not None:
        metrics.BARS_PROCESSED.inc(n_bars)
        _finish_effects(
            backtest.pk, BacktestStatus.SUCCEEDED, backtest.started_at, backtest.finished_at
        )
        # The bars and what was just stored are in memory now: the page's first visit need
        # not load them again, and building the charts reads nothing back.
        backtest_charts_prepare(backtest_id=backtest.pk, bars=bars, outputs=outputs)


def run_sandboxed(
    backtest: Backtest,
    bars: dict[str, Any],
    on_progress: Callable[[float], None] | None,
    should_cancel: Callable[[], bool] | None,
    *,
    with_orders: bool = False,
) -> dict[str, Any]:
    """Run the pinned strategy version on `bars` in a fresh jailed child.

    A backtest stores its trades, not its orders: they are listed only `with_orders` (the
    look-ahead check compares them; run_strategy_in_sandbox's rule).
    """
    limits = sandbox.SandboxLimits(
        cpu_seconds=settings.BACKTEST_SANDBOX_CPU_SECONDS,
        wall_seconds=settings.BACKTEST_SANDBOX_WALL_SECONDS,
        memory_bytes=settings.BACKTEST_SANDBOX_MEMORY_MB * 1024 * 1024,
    )
    return sandbox.run_strategy_in_sandbox(
        code=backtest.strategy_version.code,
        spec=backtest.spec_dict(),
        bars=bars,
        timeframe=backtest.timeframe,  # so the pipe carries exactly the fingerprinted bytes
        limits=limits,
        on_progress=on_progress,
        should_cancel=should_cancel,
        with_orders=with_orders,
    )


def _store_result(
    backtest: Backtest,
    claim: JobClaim,
    result: dict[str, Any],
    provenance: tuple[str, dict[str, int], int],
    timings: tuple[dict[str, float], float],
) -> RunOutputs | None:
    """_store_success, where any failure but an outage means the result cannot be stored.

    Such a failure (a value too long or out of range for its column, a constraint, a result of
    the wrong shape) is the same on every attempt: retrying it would loop and hold the user's
    job slot. Connection-level errors stay retryable: the same write may succeed later.
    """
    try:
        return _store_success(backtest, claim, result, provenance, timings)
    except (OperationalError, InterfaceError, SoftTimeLimitExceeded, ResultNotStorableError):
        raise
    except Exception as exc:
        logger.warning(
            "backtest result not storable",
            extra={"backtest_id": backtest.pk, "error": text_bound(repr(exc), 2000)},
        )
        reason = f"one of its values does not fit how results are stored ({type(exc).__name__})"
        raise ResultNotStorableError(reason) from exc


_RESULT_FIELDS = (
    "metrics", "timestamps", "equity", "drawdown", "indicators", "indicator_values", "timings",
    "sandbox_log",
)  # fmt: skip


def _store_success(
    backtest: Backtest,
    claim: JobClaim,
    result: dict[str, Any],
    provenance: tuple[str, dict[str, int], int],
    timings: tuple[dict[str, float], float],
) -> RunOutputs | None:
    """Write the outcome in one transaction: the row `succeeded`, its trades, its result.

    Returns what was written (the in-memory row now `succeeded` with its finish time, the
    result and trade rows), or None when the run was no longer ours (nothing is written).
    `timings` is (the phases so far, when the write began): the result row, the transaction's
    last statement, records the write's time up to itself (`write_ms`).
    """
    fingerprint, versions, n_bars = provenance
    phases, write_started = timings
    trades = trades_from_result(backtest.pk, result["trades"])
    result_row = BacktestResult(
        backtest_id=backtest.pk,
        metrics=result["statistics"],
        **curve_encode(result["equity_curve"]),
        **indicators_encode(result.get("indicators")),
        sandbox_log=text_bound((result.get("sandbox") or {}).get("logs", ""), MAX_LOG_CHARS),
    )
    with transaction.atomic():
        # First, so a run that is no longer ours (cancelled, deleted or re-claimed meanwhile)
        # writes nothing: its results must not land.
        finished_at = claim.mark_succeeded(
            engine_version=result["engine_version"],
            code_sha256=backtest.strategy_version.code_sha256,
            data_fingerprint=fingerprint,
            data_fingerprint_version=BAR_CODEC_VERSION,
            data_versions=versions,
            bars_processed=n_bars,
        )
        if finished_at is None:
            return None
        # Trades of an earlier attempt are dropped first: with the unique (backtest, seq)
        # constraint this makes the write exactly-once per backtest.
        Trade.objects.filter(backtest_id=backtest.pk).delete()
        Trade.objects.bulk_create(trades, batch_size=1000)
        phases["write_ms"] = _elapsed_ms(write_started)
        result_row.timings = phases
        # One statement whether or not an earlier attempt left a row: a redelivery overwrites.
        BacktestResult.objects.bulk_create(
            [result_row],
            update_conflicts=True,
            unique_fields=["backtest"],
            update_fields=list(_RESULT_FIELDS),
        )
    backtest.status, backtest.finished_at = BacktestStatus.SUCCEEDED, finished_at
    return RunOutputs(backtest, result_row, trades)


def backtest_finish_effects(backtest_id: int, status: str) -> None:
    """Metrics, the cancel flag's cleanup and notifications, once a row reached a final state."""
    row = Backtest.objects.filter(pk=backtest_id).values("started_at", "finished_at").first()
    _finish_effects(backtest_id, status, *((row["started_at"], row["finished_at"]) if row else ()))


def _finish_effects(
    backtest_id: int,
    status: str,
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
) -> None:
    if started_at and finished_at:
        metrics.RUN_TIME.labels(status).observe((finished_at - started_at).total_seconds())
    metrics.BACKTESTS.labels(status).inc()
    if status == BacktestStatus.CANCELLED:
        # Only a cancel leaves a flag worth removing; one set too late for another ending
        # expires on its own (job ids are never reused), so success costs no cache round trip.
        soft_delete(cancel_flag_key(backtest_id))
    logger.info("backtest finished", extra={"backtest_id": backtest_id, "status": status})
    notifications_enqueue(backtest_id=backtest_id)


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


class _timed:
    def __init__(self, into: dict[str, float], key: str) -> None:
        self.into, self.key = into, key

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.into[self.key] = _elapsed_ms(self.started)
