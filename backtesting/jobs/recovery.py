"""Recovery of jobs whose message was lost, for every registered job kind: the rows are the
truth, the broker only a wake-up.

A message can vanish while its row says the job is still to do: the whole worker was killed
(kombu's filesystem transport has no unacked redelivery; Redis only redelivers after its
visibility timeout, an hour), or the web process died between the commit and the publish.
Every worker runs `jobs_recover_stale_if_due` as a worker service (registered by the
backtesting app); a cache lock lets one of them sweep per interval. `manage.py jobs_recover`
runs one sweep (a Kubernetes CronJob). Re-publishing is safe because execution claims the row
with a conditional UPDATE: of two messages for one job, the second finds it running or
finished and does nothing.

On a `queued` row, `lease_expires_at` is the lease of its message: until then the published
message is presumed on its way and the sweep leaves the row alone. That bounds duplicates to
one message per job per BACKTEST_REQUEUE_AFTER_SECONDS. A queue that workers are draining in
order sends none: a row still behind every recent claim is waiting its turn (see
`_claim_frontiers`), so a long legitimate backlog is not doubled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone

from backtesting.jobs import metrics
from backtesting.jobs.fields import JobStatus
from backtesting.jobs.lifecycle import JobModel, job_enqueue_on_commit, queue_depth_refresh
from backtesting.jobs.registry import job_kind_for, job_kinds
from tradeplatform.soft_cache import soft_add

logger = logging.getLogger(__name__)

SWEEP_LOCK_KEY = "backtests:recovery:lock"  # one lock for the sweep of every kind
SWEEP_BATCH = 500  # rows per kind per sweep; a larger backlog drains over several sweeps


@dataclass
class RecoveryReport:
    """Ids of one job kind that the sweep acted on, by what it did."""

    requeued_running: list[int] = field(default_factory=list)
    requeued_queued: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    queues: set[str] = field(default_factory=set)

    @property
    def total(self) -> int:
        return len(self.requeued_running) + len(self.requeued_queued) + len(self.cancelled)


def jobs_recover_stale_if_due(*, owner: str = "") -> dict[str, RecoveryReport] | None:
    """Sweep every kind unless another worker did within BACKTEST_RECOVERY_INTERVAL_SECONDS.

    Returns None when the lock was taken. The lock only saves work: `cache.add` is atomic on
    Redis but not on the file cache, and two overlapping sweeps are harmless because every
    write of the sweep is conditional on the state it read. So when the cache is down every
    worker sweeps: recovery must not wait for the cache to come back.
    """
    interval = settings.BACKTEST_RECOVERY_INTERVAL_SECONDS
    if soft_add(SWEEP_LOCK_KEY, owner or "worker", timeout=max(interval, 1)) is False:
        return None
    return jobs_recover_stale()


def jobs_recover_stale(*, now: datetime | None = None) -> dict[str, RecoveryReport]:
    """Sweep every registered job kind; returns each kind's report by kind name."""
    now = now or timezone.now()
    return {kind.name: job_recover_stale(kind.model, now=now) for kind in job_kinds()}


def job_recover_stale(model: JobModel, *, now: datetime | None = None) -> RecoveryReport:
    """Re-publish `running` jobs whose lease expired and `queued` jobs waiting too long.

    A `running` row with an expired lease goes back to `queued` (new message, new message
    lease) unless its cancellation was asked for, in which case it ends `cancelled`. A
    `queued` row older than BACKTEST_REQUEUE_AFTER_SECONDS whose message lease expired is
    published again. Returns what was done; raises database errors to the caller.
    """
    now = now or timezone.now()
    report = RecoveryReport()
    for row in _expired_running(model, now):
        _recover_running(model, row, now, report)
    for row in _overdue_queued(model, now):
        _recover_queued(model, row, now, report)
    for queue in report.queues:
        queue_depth_refresh(queue)
    return report


def _expired_running(model: JobModel, now: datetime) -> list[dict[str, Any]]:
    rows = model._default_manager.filter(status=JobStatus.RUNNING, lease_expires_at__lt=now)
    return list(
        rows.order_by("lease_expires_at").values(*_FIELDS, "claim_token", "cancel_requested")[
            :SWEEP_BATCH
        ]
    )


def _overdue_queued(model: JobModel, now: datetime) -> list[dict[str, Any]]:
    cutoff = now - _requeue_after()
    message_lost = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    rows = model._default_manager.filter(
        message_lost, status=JobStatus.QUEUED, cancel_requested=False, queued_at__lt=cutoff
    )
    for queue, frontier in _claim_frontiers(model, now).items():
        rows = rows.exclude(queue=queue, queued_at__gt=frontier)
    return list(rows.order_by("queued_at").values(*_FIELDS, "lease_expires_at")[:SWEEP_BATCH])


def _claim_frontiers(model: JobModel, now: datetime) -> dict[str, datetime]:
    """Per queue that live workers are draining, the newest submit time among its running jobs.

    A queue delivers in order: a row queued after every running one is still in line behind
    them, its message on its way, so re-publishing it would only add a duplicate per job to a
    long backlog (each one a delivery the workers must refuse). A row queued before the
    frontier was passed by a later one: its message may be lost. A queue running nothing under
    a live lease is stalled or idle, and everything overdue in it is published again.
    """
    running = model._default_manager.filter(status=JobStatus.RUNNING, lease_expires_at__gte=now)
    rows = running.values_list("queue").annotate(frontier=Max("queued_at")).order_by()
    return {queue: frontier for queue, frontier in rows if frontier is not None}


_FIELDS = ("pk", "queue", "request_id", "attempts")


def _recover_running(
    model: JobModel, row: dict[str, Any], now: datetime, report: RecoveryReport
) -> None:
    # Conditional on the token and the expiry we saw: if the dead worker's redelivered message
    # re-claimed the row meanwhile (new token, live lease), this matches nothing.
    same_claim = model._default_manager.filter(
        pk=row["pk"],
        status=JobStatus.RUNNING,
        claim_token=row["claim_token"],
        lease_expires_at__lt=now,
    )
    if row["cancel_requested"]:
        if same_claim.update(
            status=JobStatus.CANCELLED, finished_at=now, lease_expires_at=None,
            error_code="cancelled", error_message="Cancelled by the user.",
        ):  # fmt: skip
            _count(model, row, "cancelled_after_worker_loss", report)
            report.cancelled.append(row["pk"])
            job_kind_for(model).finish_effects(row["pk"], JobStatus.CANCELLED)
        return
    if same_claim.update(
        status=JobStatus.QUEUED, claim_token="", progress=0.0,
        lease_expires_at=now + _requeue_after(),
    ):  # fmt: skip
        _count(model, row, "lease_expired", report)
        report.requeued_running.append(row["pk"])
        job_enqueue_on_commit(model, job_id=row["pk"], request_id=row["request_id"],
                              queue=row["queue"])  # fmt: skip


def _recover_queued(
    model: JobModel, row: dict[str, Any], now: datetime, report: RecoveryReport
) -> None:
    # Conditional on the message lease we saw, so two overlapping sweeps publish once.
    if model._default_manager.filter(
        pk=row["pk"], status=JobStatus.QUEUED, lease_expires_at=row["lease_expires_at"]
    ).update(lease_expires_at=now + _requeue_after()):
        _count(model, row, "queued_too_long", report)
        report.requeued_queued.append(row["pk"])
        job_enqueue_on_commit(model, job_id=row["pk"], request_id=row["request_id"],
                              queue=row["queue"])  # fmt: skip


def _count(model: JobModel, row: dict[str, Any], reason: str, report: RecoveryReport) -> None:
    report.queues.add(row["queue"])
    metrics.RECOVERED.labels(reason).inc()
    name = job_kind_for(model).name
    logger.warning(
        f"{name} recovered",
        extra={f"{name}_id": row["pk"], "reason": reason, "attempts": row["attempts"],
               "job_request_id": row["request_id"]},
    )  # fmt: skip


def _requeue_after() -> timedelta:
    return timedelta(seconds=settings.BACKTEST_REQUEUE_AFTER_SECONDS)
