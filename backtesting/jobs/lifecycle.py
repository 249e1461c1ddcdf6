"""The lifecycle of any job row (a model inheriting JobFields): claim, lease, cancel, finish.

Every write that changes a job's status is a conditional UPDATE on the state it expects, so
the API, the worker and the recovery sweep race freely: exactly one wins, the others see 0
rows. Claiming turns `queued` (or `running` under an expired lease: its worker died) into
`running` with a fresh token, and every later write of that run is conditional on the token,
so a slow worker whose job was re-claimed can no longer write.

Two rules decide a claim, inside one transaction, before its UPDATE:
- Attempt cap: a job claimed BACKTEST_MAX_ATTEMPTS times without finishing ends `failed` and
  its kind's `exhausted` hook dead-letters it. Every path that runs a job goes through here
  (first delivery, task retry, redelivery, the recovery sweep's re-publish), so no job loops.
- Per-user fairness: a job starts only while its owner has fewer than its kind's limit
  (JobKind.user_max_running, else BACKTEST_USER_MAX_RUNNING) jobs of that kind running under a
  live lease, counted under a lock on the owner's row, so the
  rule holds across any number of workers. A job that may not start is deferred: it stays
  `queued`, its attempt is not counted, and a new message is published with a short countdown.

Jobs are published by task name (`celery.current_app`), so no service imports a tasks module.
"""

from __future__ import annotations

import enum
import logging
import math
import random
import time
from datetime import datetime, timedelta
from typing import Any

import pybreaker
from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerOperationalError

from backtesting.jobs import metrics
from backtesting.jobs.bounds import MAX_MESSAGE_CHARS, error_details_bound, text_bound
from backtesting.jobs.fields import JobFields, JobStatus
from backtesting.jobs.registry import job_kind_for, job_kinds
from tradeplatform.soft_cache import soft_get, soft_set

logger = logging.getLogger(__name__)

JobModel = type[JobFields]


class ClaimOutcome(enum.Enum):
    CLAIMED = "claimed"
    NOT_CLAIMABLE = "not_claimable"  # finished, cancelled, gone, or running under a live lease
    DEFERRED = "deferred"  # its owner already runs their share; a new message is on its way
    EXHAUSTED = "exhausted"  # out of attempts: ended `failed` and dead-lettered


class CancelOutcome(enum.Enum):
    CANCELLED = "cancelled"  # it was queued: it ends at once
    REQUESTED = "requested"  # it is running: its worker stops it at its next poll
    FINISHED = "finished"  # nothing to cancel


def error_fields(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """A failed run's error columns, its message and details cut to what a row may keep."""
    return {
        "error_code": code,
        "error_message": text_bound(message, MAX_MESSAGE_CHARS),
        "error_details": error_details_bound(details or {}),
    }


def job_cancel_flag_key(model: JobModel, job_id: int) -> str:
    return f"{job_kind_for(model).key_prefix}:cancel:{job_id}"


def job_claim(model: JobModel, *, job_id: int, token: str) -> ClaimOutcome:
    """Claim the job for the delivery holding `token`, unless a rule above says otherwise.

    Raises database errors (the task retries them).
    """
    return job_claim_row(model, job_id=job_id, token=token)[0]


def job_claim_row(
    model: JobModel, *, job_id: int, token: str, related: tuple[str, ...] = ()
) -> tuple[ClaimOutcome, Any]:
    """job_claim, also returning the claimed row as it now stands (None unless CLAIMED).

    The row (with the `related` foreign keys, select_related) is the one the claim's own
    read fetched and locked, updated in memory with what the claim wrote: the run gets its
    job and its inputs without another query.
    """
    now = timezone.now()
    with transaction.atomic():
        # Locked until the claim commits, so what was read is what the UPDATE below changes.
        claimable = _claimable(model, now).select_for_update(of=("self",))
        job = claimable.select_related(*related).filter(pk=job_id).first()
        if job is None:
            return ClaimOutcome.NOT_CLAIMABLE, None
        if job.attempts < settings.BACKTEST_MAX_ATTEMPTS:
            limit = _user_limit(model)
            if limit > 0:
                _owner_lock(job.owner_id)
                if _owner_at_limit(model, job.owner_id, job_id, now, limit):
                    return _defer(model, job_id, now), None
            # Stamped after the count: a job of this owner that it saw finished has a finish
            # time before this start (a time taken before the lock wait could precede it).
            started = timezone.now()
            outcome = _take(model, job_id, token, started)
            if outcome is not ClaimOutcome.CLAIMED:
                return outcome, None
            _claimed_in_memory(job, token, started)
            return outcome, job
        exhausted = _fail_exhausted(model, job_id, job.attempts, now)
    if not exhausted:
        return ClaimOutcome.NOT_CLAIMABLE, None
    kind = job_kind_for(model)
    kind.exhausted(job_id, job.attempts)
    kind.finish_effects(job_id, JobStatus.FAILED)
    return ClaimOutcome.EXHAUSTED, None


def _primary(model: JobModel) -> Any:
    # Claims, leases and cancel polls read the primary even when a read replica is set up
    # (tradeplatform/db_router.py): a lagging copy could show a live lease as expired.
    return model._default_manager.db_manager(DEFAULT_DB_ALIAS)


def _claimable(model: JobModel, now: datetime) -> Any:
    expired = Q(status=JobStatus.RUNNING, lease_expires_at__lt=now)
    return _primary(model).filter(Q(status=JobStatus.QUEUED) | expired, cancel_requested=False)


def _owner_lock(owner_id: int) -> None:
    # The same row lock serialises this owner's submits (the quota count): one owner's claims
    # are decided one at a time, each counting what the previous one committed. Claims of
    # different owners never wait on each other.
    user_model = get_user_model()
    list(user_model.objects.select_for_update().filter(pk=owner_id).values_list("pk", flat=True))


def _user_limit(model: JobModel) -> int:
    """How many of one owner's jobs of this kind may run at once (0 or less: no limit)."""
    kind_limit = job_kind_for(model).user_max_running
    return kind_limit() if kind_limit is not None else settings.BACKTEST_USER_MAX_RUNNING


def _owner_at_limit(model: JobModel, owner_id: int, job_id: int, now: datetime, limit: int) -> bool:
    # Only live leases count: a job whose worker died must not block its owner until the sweep.
    running = (
        _primary(model)
        .filter(owner_id=owner_id, status=JobStatus.RUNNING, lease_expires_at__gte=now)
        .exclude(pk=job_id)
    )
    return running.count() >= limit


def _claim_fields(token: str, now: datetime) -> dict[str, Any]:
    """What a claim writes, but the attempt count (an F() increment in the UPDATE)."""
    return {
        "status": JobStatus.RUNNING,
        "claim_token": token,
        "started_at": now,
        "lease_expires_at": now + timedelta(seconds=settings.BACKTEST_LEASE_SECONDS),
        "progress": 0.0,
    }


def _take(model: JobModel, job_id: int, token: str, now: datetime) -> ClaimOutcome:
    updated = (
        _claimable(model, now)
        .filter(pk=job_id)
        .update(**_claim_fields(token, now), attempts=F("attempts") + 1)
    )
    return ClaimOutcome.CLAIMED if updated else ClaimOutcome.NOT_CLAIMABLE


def _claimed_in_memory(job: JobFields, token: str, now: datetime) -> None:
    # Inside the claim's transaction, after its UPDATE matched: nothing else changed the row.
    for name, value in _claim_fields(token, now).items():
        setattr(job, name, value)
    job.attempts += 1


def _defer(model: JobModel, job_id: int, now: datetime) -> ClaimOutcome:
    # Back to (or still) `queued` with no attempt counted. `lease_expires_at` becomes the lease
    # of the new message, so the recovery sweep does not publish a second one meanwhile.
    defer_seconds = float(settings.BACKTEST_FAIRNESS_DEFER_SECONDS)
    message_lease = max(settings.BACKTEST_REQUEUE_AFTER_SECONDS, defer_seconds * 2)
    updated = (
        _claimable(model, now)
        .filter(pk=job_id)
        .update(
            status=JobStatus.QUEUED,
            claim_token="",
            progress=0.0,
            lease_expires_at=now + timedelta(seconds=message_lease),
        )
    )
    if not updated:
        return ClaimOutcome.NOT_CLAIMABLE
    row = _primary(model).values("request_id", "queue").get(pk=job_id)
    # Jittered, so deferred jobs of many owners do not come back in step.
    countdown = random.uniform(0.5, 1.0) * defer_seconds
    job_enqueue_on_commit(model, job_id=job_id, countdown=countdown, **row)
    metrics.DEFERRED.inc()
    name = job_kind_for(model).name
    logger.info(f"{name} deferred: its owner runs their share", extra={f"{name}_id": job_id})
    return ClaimOutcome.DEFERRED


def _fail_exhausted(model: JobModel, job_id: int, attempts: int, now: datetime) -> bool:
    name = job_kind_for(model).name
    return bool(
        _claimable(model, now)
        .filter(pk=job_id)
        .update(
            status=JobStatus.FAILED,
            finished_at=now,
            claim_token="",
            lease_expires_at=None,
            error_code="too_many_attempts",
            error_message=(
                f"This {name} was started {attempts} times without finishing (its worker "
                "was lost each time), so it was stopped instead of being tried again. "
                "Operators were notified and can requeue it."
            ),
            error_details={"attempts": attempts},
        )
    )


class JobClaim:
    """One delivery's ownership of a row: throttled progress, lease renewal, cancel polls and
    the final write. Every write is conditional on the token; `lost` turns true once one
    matches nothing (cancelled, deleted or re-claimed meanwhile)."""

    def __init__(self, model: JobModel, job_id: int, token: str) -> None:
        self.model, self.job_id, self.token = model, job_id, token
        self.lease = timedelta(seconds=settings.BACKTEST_LEASE_SECONDS)
        self._last_progress = self._last_cancel_poll = self._last_renewal = time.monotonic()
        self.lost = False

    def rows(self) -> Any:
        return _primary(self.model).filter(pk=self.job_id, claim_token=self.token)

    def on_progress(self, fraction: float) -> None:
        now = time.monotonic()
        # Progress is written at most a few times a second: enough for a progress bar,
        # cheap enough not to slow a job that reports every 1 % of its work.
        if now - self._last_progress < settings.BACKTEST_PROGRESS_INTERVAL_SECONDS:
            return
        self._last_progress = self._last_renewal = now
        updated = (
            self.rows()
            .filter(status=JobStatus.RUNNING)
            .update(
                progress=min(max(float(fraction), 0.0), 1.0),
                lease_expires_at=timezone.now() + self.lease,
            )
        )
        self.lost = self.lost or not updated

    def should_cancel(self) -> bool:
        now = time.monotonic()
        if now - self._last_cancel_poll < settings.BACKTEST_CANCEL_POLL_SECONDS:
            return self.lost
        self._last_cancel_poll = now
        if soft_get(job_cancel_flag_key(self.model, self.job_id)):  # outage: not a cancel
            return True
        # The row is the truth (a flushed or shared cache may have lost the flag); a primary-key
        # read every half second is negligible next to the job itself.
        if self.rows().filter(cancel_requested=True).exists():
            return True
        if now - self._last_renewal >= self.lease.total_seconds() / 3:
            self.renew(now)
        return self.lost

    def renew(self, now: float | None = None) -> None:
        """Extend the lease; a job that reports no progress still keeps its claim."""
        self._last_renewal = time.monotonic() if now is None else now
        # The renewal also reads the row's cancel flag, in case the cache was flushed.
        updated = (
            self.rows()
            .filter(status=JobStatus.RUNNING, cancel_requested=False)
            .update(lease_expires_at=timezone.now() + self.lease)
        )
        self.lost = self.lost or not updated

    def finish(self, status: str, **fields: Any) -> bool:
        """End the run in `status` (with error fields), then run the kind's finish effects.

        Returns False when the claim was lost meanwhile (nothing written, no effects).
        """
        updated = self.mark_ended(status, **fields)
        if updated:
            job_kind_for(self.model).finish_effects(self.job_id, status)
        return updated

    def mark_ended(self, status: str, **fields: Any) -> bool:
        """In the caller's transaction: the run is in `status` (with `fields`) if still ours.

        False when it was cancelled, deleted or re-claimed meanwhile: the caller then writes
        nothing of this attempt. The finish effects are the caller's to run after the commit.
        """
        updated = (
            self.rows()
            .filter(status=JobStatus.RUNNING)
            .update(status=status, finished_at=timezone.now(), lease_expires_at=None, **fields)
        )
        return bool(updated)

    def fail(
        self, status: str, code: str, message: str, details: dict[str, Any] | None = None
    ) -> bool:
        """finish() with an error, its message and details cut to what a row may keep."""
        return self.finish(status, **error_fields(code, message, details))

    def mark_succeeded(self, **fields: Any) -> datetime | None:
        """In the caller's transaction: the run is `succeeded` (with `fields`) if still ours.

        Returns the finish time written, or None when it was cancelled, deleted or re-claimed
        meanwhile: the caller then writes nothing (or rolls back) so this attempt's results
        never land. The kind's finish effects are the caller's to run after the commit, when
        the results it stores beside the row are visible.
        """
        finished_at = timezone.now()
        updated = (
            self.rows()
            .filter(status=JobStatus.RUNNING)
            .update(
                status=JobStatus.SUCCEEDED,
                progress=1.0,
                finished_at=finished_at,
                lease_expires_at=None,
                **fields,
            )
        )
        return finished_at if updated else None

    def release(self) -> None:
        """Give the row back (`queued`) so the task's retry can claim it without waiting."""
        # The released row's lease becomes its message's (see backtesting.jobs.recovery): the
        # retry is on its way, so the recovery sweep must not publish a second copy meanwhile.
        message_lease = timedelta(seconds=settings.BACKTEST_REQUEUE_AFTER_SECONDS)
        try:
            self.rows().filter(status=JobStatus.RUNNING).update(
                status=JobStatus.QUEUED,
                claim_token="",
                lease_expires_at=timezone.now() + message_lease,
            )
        except Exception:  # the database may be what failed; the lease then expires on its own
            name = job_kind_for(self.model).name
            logger.warning(f"could not release {name} claim", extra={f"{name}_id": self.job_id})


def job_cancel(job: JobFields) -> CancelOutcome:
    """Cancel a queued job at once, or ask its running worker to stop (flag in cache and row)."""
    model, now = type(job), timezone.now()
    rows = model._default_manager.filter(pk=job.pk)
    if rows.filter(status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED, finished_at=now, cancel_requested=True
    ):
        return CancelOutcome.CANCELLED
    if rows.filter(status=JobStatus.RUNNING).update(cancel_requested=True):
        # The worker polls this flag (cache first, the row as a fallback) every ~0.5 s; with
        # the cache down the row alone carries the request.
        soft_set(job_cancel_flag_key(model, job.pk), True, timeout=24 * 3600)
        return CancelOutcome.REQUESTED
    return CancelOutcome.FINISHED


def job_requeue(model: JobModel, *, job_id: int) -> bool:
    """Put a queued or failed job back on its queue with a fresh attempt budget (operators).

    Returns False when the job is done or gone (the sweep or a late delivery may have won).
    """
    requeueable = (JobStatus.QUEUED, JobStatus.FAILED)
    updated = model._default_manager.filter(pk=job_id, status__in=requeueable).update(
        status=JobStatus.QUEUED,
        # A fresh budget: an operator's requeue after the attempt cap must be able to run.
        attempts=0,
        progress=0.0,
        claim_token="",
        lease_expires_at=None,
        cancel_requested=False,
        error_code="",
        error_message="",
        error_details={},
        finished_at=None,
        queued_at=timezone.now(),
    )
    if updated:
        row = model._default_manager.values("request_id", "queue").get(pk=job_id)
        job_enqueue_on_commit(model, job_id=job_id, **row)
    return bool(updated)


def job_enqueue_on_commit(
    model: JobModel, *, job_id: int, request_id: str, queue: str, countdown: float | None = None
) -> None:
    """Publish the job to the queue its row names, once the current transaction commits.

    `countdown` delays delivery (a job deferred by the fairness rule comes back later).
    """
    # The request id header makes the worker's logs carry the id of the request that
    # created the job, even when an operator or the recovery sweep requeues it days later.
    headers = {"request_id": request_id} if request_id else {}
    options: dict[str, Any] = {"headers": headers, "queue": queue}
    if countdown is not None:
        options["countdown"] = countdown
    task_enqueue_on_commit(job_kind_for(model).task_name, (job_id,), **options)
    transaction.on_commit(lambda: _queue_depth_refresh_if_due(queue))


def task_enqueue_on_commit(task_name: str, args: tuple[Any, ...], **options: Any) -> None:
    """`delay_on_commit` by task name: nothing is published if the transaction rolls back."""
    transaction.on_commit(lambda: _publish(task_name, args, options))


_publish_breaker: pybreaker.CircuitBreaker | None = None


def publish_breaker() -> pybreaker.CircuitBreaker:
    """This process's breaker on publishing (BROKER_PUBLISH_BREAKER_*): only broker errors count.

    Per process, in memory: the broker is often the cache's Redis, so a shared state would be
    down exactly when it is needed.
    """
    global _publish_breaker
    if _publish_breaker is None:
        _publish_breaker = pybreaker.CircuitBreaker(
            fail_max=settings.BROKER_PUBLISH_BREAKER_FAIL_MAX,
            reset_timeout=settings.BROKER_PUBLISH_BREAKER_RESET_TIMEOUT,
            exclude=[lambda exc: not isinstance(exc, BrokerOperationalError)],
            name="broker_publish",
        )
    return _publish_breaker


def _publish(task_name: str, args: tuple[Any, ...], options: dict[str, Any]) -> None:
    """Publish now, or leave the message to the recovery sweep when the broker cannot take it.

    The row is committed (`queued`) before this runs, so a failed publish is a lost message,
    which the sweep re-publishes within BACKTEST_REQUEUE_AFTER_SECONDS, not the client's error:
    answering 500 would make them submit the job twice. While the breaker is open nothing
    waits on the broker's connect attempts.
    """
    try:
        publish_breaker().call(_send, task_name, args, options)
    except (BrokerOperationalError, pybreaker.CircuitBreakerError) as exc:
        metrics.PUBLISH_FAILURES.labels(type(exc).__name__).inc()
        logger.warning(
            "job not published; the recovery sweep will publish it",
            extra={"event": "job_publish_failed", "task": task_name, "job_args": list(args),
                   "reason": type(exc).__name__, "breaker": publish_breaker().current_state,
                   "error": str(exc)[:300]},
        )  # fmt: skip


def _send(task_name: str, args: tuple[Any, ...], options: dict[str, Any]) -> None:
    # A process that imported the task (a worker, a test) calls it as itself, so its own
    # options apply; any other process sends the message by name, without importing it.
    task = current_app.tasks.get(task_name)
    if task is not None:
        task.apply_async(args, **options)
    else:
        current_app.send_task(task_name, args, **options)


def queue_depth_refresh(queue: str) -> None:
    """Set the queue-depth gauge of `queue` from the rows of every kind (indexed counts)."""
    depth = sum(
        kind.model._default_manager.filter(status=JobStatus.QUEUED, queue=queue).count()
        for kind in job_kinds()
    )
    metrics.QUEUE_DEPTH.labels(queue).set(depth)


_depth_refreshed_at: dict[str, float] = {}


def _queue_depth_refresh_if_due(queue: str) -> None:
    # A publisher (the web) also sets the gauge, so a backlog shows even while no worker runs,
    # but at most once per interval: a burst of submits must not count the queue per request.
    now = time.monotonic()
    if now - _depth_refreshed_at.get(queue, -math.inf) < settings.JOB_QUEUE_DEPTH_INTERVAL_SECONDS:
        return
    _depth_refreshed_at[queue] = now
    queue_depth_refresh(queue)


def queue_depths_refresh(hostname: str = "") -> dict[str, int]:
    """Set the queue-depth gauge of every queue (a worker service, every few seconds).

    Off the job path on purpose: counting on every submit and claim cost the API request and
    the worker a COUNT query per job kind, per job, for a gauge an autoscaler reads every 15 s
    or so. Every queue a kind is registered on is set, so an emptied queue reads 0. Returns the
    depths.
    """
    depths = dict.fromkeys((kind.queue for kind in job_kinds()), 0)
    for kind in job_kinds():
        counts = (
            kind.model._default_manager.filter(status=JobStatus.QUEUED)
            .values_list("queue")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for queue, n in counts:
            depths[queue] = depths.get(queue, 0) + n
    for queue, depth in depths.items():
        metrics.QUEUE_DEPTH.labels(queue).set(depth)
    return depths
