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
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction

from backtesting import sandbox
from backtesting.bars import bars_for_backtest
from backtesting.chart_data import backtest_charts_prepare
from backtesting.curves import curve_encode
from backtesting.engine.barcodec import VERSION as BAR_CODEC_VERSION
from backtesting.engine.barcodec import fingerprint_bars
from backtesting.indicator_arrays import indicators_encode
from backtesting.jobs import metrics
from backtesting.jobs.bounds import (
    MAX_LOG_CHARS,
    text_bound,
)
from backtesting.jobs.lifecycle import ClaimOutcome, JobClaim, job_claim, queue_depth_refresh
from backtesting.models import Backtest, BacktestResult, BacktestStatus, Trade
from backtesting.notifications.services import notifications_enqueue
from backtesting.results import ResultNotStorableError, trades_from_result
from backtesting.services import cancel_flag_key
from tradeplatform.soft_cache import soft_delete

logger = logging.getLogger(__name__)


def backtest_execute(*, backtest_id: int) -> Backtest | None:
    """Claim, run and store one backtest; returns the row in its final state.

    Returns None if the row is gone. A row that is finished, cancelled or owned by a live
    worker is returned untouched; one whose owner already runs their share stays `queued` and
    comes back later (see backtesting.jobs.lifecycle). A result that cannot be stored ends the
    job `failed` (`result_not_storable`), never retried. Database/broker errors propagate so
    the task can retry them.
    """
    claim = _claim(backtest_id)
    if claim is None:
        return Backtest.objects.filter(pk=backtest_id).first()
    backtest = Backtest.objects.select_related("strategy_version").get(pk=backtest_id)
    metrics.QUEUE_WAIT.labels(backtest.queue).observe(
        max(((backtest.started_at or backtest.queued_at) - backtest.queued_at).total_seconds(), 0.0)
    )
    queue_depth_refresh(backtest.queue)
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
    return Backtest.objects.filter(pk=backtest_id).first()


def _claim(backtest_id: int) -> JobClaim | None:
    token = uuid.uuid4().hex
    outcome = job_claim(Backtest, job_id=backtest_id, token=token)
    if outcome is ClaimOutcome.CLAIMED:
        return JobClaim(Backtest, backtest_id, token)
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
    with _timed(timings, "write_ms"):
        stored = _store_result(backtest, claim, result, (fingerprint, versions, n_bars), timings)
    if stored:
        # The write's own duration is only known now; one more tiny UPDATE records it.
        BacktestResult.objects.filter(backtest_id=backtest.pk).update(timings=timings)
        metrics.BARS_PROCESSED.inc(n_bars)
        backtest_finish_effects(backtest.pk, BacktestStatus.SUCCEEDED)
        # The bars are in memory now: the page's first visit need not load them again.
        backtest_charts_prepare(backtest_id=backtest.pk, bars=bars)


def run_sandboxed(
    backtest: Backtest,
    bars: dict[str, Any],
    on_progress: Callable[[float], None] | None,
    should_cancel: Callable[[], bool] | None,
) -> dict[str, Any]:
    """Run the pinned strategy version on `bars` in a fresh jailed child."""
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
    )


def _store_result(
    backtest: Backtest,
    claim: JobClaim,
    result: dict[str, Any],
    provenance: tuple[str, dict[str, int], int],
    timings: dict[str, float],
) -> bool:
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


def _store_success(
    backtest: Backtest,
    claim: JobClaim,
    result: dict[str, Any],
    provenance: tuple[str, dict[str, int], int],
    timings: dict[str, float],
) -> bool:
    fingerprint, versions, n_bars = provenance
    result_row = BacktestResult(
        backtest_id=backtest.pk,
        metrics=result["statistics"],
        **curve_encode(result["equity_curve"]),
        **indicators_encode(result.get("indicators")),
        timings=timings,
        sandbox_log=text_bound((result.get("sandbox") or {}).get("logs", ""), MAX_LOG_CHARS),
    )
    trades = trades_from_result(backtest.pk, result["trades"])
    with transaction.atomic():
        # Trades of an earlier, interrupted attempt are dropped first: with the unique
        # (backtest, seq) constraint this makes the write exactly-once per backtest.
        Trade.objects.filter(backtest_id=backtest.pk).delete()
        Trade.objects.bulk_create(trades, batch_size=1000)
        updated = claim.mark_succeeded(
            engine_version=result["engine_version"],
            code_sha256=backtest.strategy_version.code_sha256,
            data_fingerprint=fingerprint,
            data_fingerprint_version=BAR_CODEC_VERSION,
            data_versions=versions,
            bars_processed=n_bars,
        )
        if not updated:
            # Cancelled, deleted or re-claimed meanwhile: this attempt's results must not land.
            transaction.set_rollback(True)
            return False
        result_row.save()  # after the row is ours: UPDATE, else INSERT, so a redelivery overwrites
    return True


def backtest_finish_effects(backtest_id: int, status: str) -> None:
    """Metrics, the cancel flag's cleanup and notifications, once a row reached a final state."""
    row = Backtest.objects.filter(pk=backtest_id).values("started_at", "finished_at").first()
    if row and row["started_at"] and row["finished_at"]:
        metrics.RUN_TIME.labels(status).observe(
            (row["finished_at"] - row["started_at"]).total_seconds()
        )
    metrics.BACKTESTS.labels(status).inc()
    soft_delete(cancel_flag_key(backtest_id))
    logger.info("backtest finished", extra={"backtest_id": backtest_id, "status": status})
    notifications_enqueue(backtest_id=backtest_id)


class _timed:
    def __init__(self, into: dict[str, float], key: str) -> None:
        self.into, self.key = into, key

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.into[self.key] = round((time.perf_counter() - self.started) * 1000, 2)
