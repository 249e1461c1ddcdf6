"""Celery task of the sweeps: one chunk of combinations (routed to the optimizations queue)."""

from __future__ import annotations

from celery import Task, shared_task
from django.conf import settings

from backtesting.optimization.execution import optimization_chunk_execute
from backtesting.tasks import TRANSIENT_ERRORS, backoff_seconds


@shared_task(
    bind=True,
    name="backtesting.optimization_chunk_execute",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=settings.BACKTEST_MAX_RETRIES,
    soft_time_limit=settings.BACKTEST_SOFT_TIME_LIMIT,
    time_limit=settings.BACKTEST_TIME_LIMIT,
)
def optimization_chunk_execute_task(self: Task, chunk_id: int) -> None:
    try:
        optimization_chunk_execute(chunk_id=chunk_id)
    except TRANSIENT_ERRORS as exc:
        # Out of retries, the row stays queued and the recovery sweep publishes it again; the
        # attempt cap then ends it (chunk_exhausted) instead of looping.
        if self.request.retries >= (self.max_retries or 0):
            return
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries)) from exc
