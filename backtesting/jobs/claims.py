"""Who may start a job now: the claim, with its per-user fairness rule and its attempt cap.

Claiming turns `queued` (or `running` under an expired lease: its worker died) into `running`
with a fresh token. Two rules decide, inside one transaction, before that UPDATE:

- Attempt cap: a job claimed BACKTEST_MAX_ATTEMPTS times without finishing ends `failed` and
  dead-lettered instead of running again. Every path that runs a job goes through here (first
  delivery, task retry, redelivery, the recovery sweep's re-publish), so no job loops forever.
- Per-user fairness: a job starts only while its owner has fewer than BACKTEST_USER_MAX_RUNNING
  jobs running under a live lease, counted in the database under a lock on the owner's row, so
  the rule holds across any number of workers. A job that may not start is deferred: it stays
  `queued`, its attempt is not counted, and a new message is published with a short countdown.
  The worker slot is free at once for the next message: another user's job.
"""

from __future__ import annotations

import enum
import logging
import random
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from backtesting.jobs import metrics
from backtesting.jobs.models import Backtest, BacktestStatus, DeadLetterKind
from backtesting.jobs.services import backtest_enqueue_on_commit, dead_letter_record

logger = logging.getLogger(__name__)


class ClaimOutcome(enum.Enum):
    CLAIMED = "claimed"
    NOT_CLAIMABLE = "not_claimable"  # finished, cancelled, gone, or running under a live lease
    DEFERRED = "deferred"  # its owner already runs their share; a new message is on its way
    EXHAUSTED = "exhausted"  # out of attempts: ended `failed` and dead-lettered


def backtest_claim(*, backtest_id: int, token: str) -> ClaimOutcome:
    """Claim the job for the delivery holding `token`, unless a rule above says otherwise.

    Raises database errors (the task retries them).
    """
    now = timezone.now()
    with transaction.atomic():
        row = _claimable(now).filter(pk=backtest_id).values("owner_id", "attempts").first()
        if row is None:
            return ClaimOutcome.NOT_CLAIMABLE
        if row["attempts"] < settings.BACKTEST_MAX_ATTEMPTS:
            _owner_lock(row["owner_id"])
            if _owner_at_limit(row["owner_id"], backtest_id, now):
                return _defer(backtest_id, now)
            return _take(backtest_id, token, now)
        exhausted = _fail_exhausted(backtest_id, row["attempts"], now)
    if not exhausted:
        return ClaimOutcome.NOT_CLAIMABLE
    _exhausted_effects(backtest_id, row["attempts"])
    return ClaimOutcome.EXHAUSTED


def _claimable(now: datetime) -> Any:
    expired = Q(status=BacktestStatus.RUNNING, lease_expires_at__lt=now)
    return Backtest.objects.filter(
        Q(status=BacktestStatus.QUEUED) | expired, cancel_requested=False
    )


def _owner_lock(owner_id: int) -> None:
    # The same row lock serialises this owner's submits (the quota count): one owner's claims
    # are decided one at a time, each counting what the previous one committed. Claims of
    # different owners never wait on each other.
    user_model = get_user_model()
    list(user_model.objects.select_for_update().filter(pk=owner_id).values_list("pk", flat=True))


def _owner_at_limit(owner_id: int, backtest_id: int, now: datetime) -> bool:
    limit = settings.BACKTEST_USER_MAX_RUNNING
    if limit <= 0:
        return False
    # Only live leases count: a job whose worker died must not block its owner until the sweep.
    running = Backtest.objects.filter(
        owner_id=owner_id, status=BacktestStatus.RUNNING, lease_expires_at__gte=now
    ).exclude(pk=backtest_id)
    return running.count() >= limit


def _take(backtest_id: int, token: str, now: datetime) -> ClaimOutcome:
    updated = (
        _claimable(now)
        .filter(pk=backtest_id)
        .update(
            status=BacktestStatus.RUNNING,
            claim_token=token,
            started_at=now,
            lease_expires_at=now + timedelta(seconds=settings.BACKTEST_LEASE_SECONDS),
            attempts=F("attempts") + 1,
            progress=0.0,
        )
    )
    return ClaimOutcome.CLAIMED if updated else ClaimOutcome.NOT_CLAIMABLE


def _defer(backtest_id: int, now: datetime) -> ClaimOutcome:
    # Back to (or still) `queued` with no attempt counted. `lease_expires_at` becomes the lease
    # of the new message, so the recovery sweep does not publish a second one meanwhile.
    message_lease = max(settings.BACKTEST_REQUEUE_AFTER_SECONDS, _defer_seconds() * 2)
    updated = (
        _claimable(now)
        .filter(pk=backtest_id)
        .update(
            status=BacktestStatus.QUEUED,
            claim_token="",
            progress=0.0,
            lease_expires_at=now + timedelta(seconds=message_lease),
        )
    )
    if not updated:
        return ClaimOutcome.NOT_CLAIMABLE
    row = Backtest.objects.values("request_id", "queue").get(pk=backtest_id)
    # Jittered, so deferred jobs of many owners do not come back in step.
    countdown = random.uniform(0.5, 1.0) * _defer_seconds()
    backtest_enqueue_on_commit(backtest_id=backtest_id, countdown=countdown, **row)
    metrics.DEFERRED.inc()
    logger.info("backtest deferred: its owner runs their share", extra={"backtest_id": backtest_id})
    return ClaimOutcome.DEFERRED


def _defer_seconds() -> float:
    return float(settings.BACKTEST_FAIRNESS_DEFER_SECONDS)


def _fail_exhausted(backtest_id: int, attempts: int, now: datetime) -> bool:
    return bool(
        _claimable(now)
        .filter(pk=backtest_id)
        .update(
            status=BacktestStatus.FAILED,
            finished_at=now,
            claim_token="",
            lease_expires_at=None,
            error_code="too_many_attempts",
            error_message=(
                f"This backtest was started {attempts} times without finishing (its worker "
                "was lost each time), so it was stopped instead of being tried again. "
                "Operators were notified and can requeue it."
            ),
            error_details={"attempts": attempts},
        )
    )


def _exhausted_effects(backtest_id: int, attempts: int) -> None:
    from backtesting.jobs.execution import backtest_finish_effects  # it imports this module

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
    backtest_finish_effects(backtest_id, BacktestStatus.FAILED)
