"""Celery task of walk-forwards: a thin wrapper that maps infrastructure errors to retries.

Routed to the "optimizations" queue by its name (CELERY_TASK_ROUTES: backtesting.walkforward_*).
"""

from __future__ import annotations

from celery import Task, shared_task
from django.conf import settings

from backtesting.tasks import TRANSIENT_ERRORS, backoff_seconds
from backtesting.walkforward.execution import walkforward_execute


@shared_task(
    bind=True,
    name="backtesting.walkforward_execute",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=settings.BACKTEST_MAX_RETRIES,
    soft_time_limit=settings.BACKTEST_SOFT_TIME_LIMIT,
    time_limit=settings.BACKTEST_TIME_LIMIT,
)
def walkforward_execute_task(self: Task, walkforward_id: int) -> None:
    try:
        walkforward_execute(walkforward_id=walkforward_id)
    except TRANSIENT_ERRORS as exc:
        if self.request.retries >= (self.max_retries or 0):
            # The row stays `queued` (released); the attempt cap ends it on a later claim.
            return
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries)) from exc
