"""Celery tasks of the backtesting app: thin wrappers that map failures to retries.

Ids only, never model instances. Only infrastructure errors (database or broker
unreachable) are retried; a strategy's own failure is a final `failed` state, decided
in the service. A job that runs out of retries lands in the DeadLetter table.
"""

from __future__ import annotations

import random
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from backtesting.execution import backtest_run
from backtesting.models import DeadLetterKind
from backtesting.notifications.services import (
    backtest_email_send,
    delivery_mark_dead,
    webhook_deliver,
)
from backtesting.services import dead_letter_record

TRANSIENT_ERRORS = (
    OperationalError,
    InterfaceError,
    BrokerOperationalError,
    RedisConnectionError,
    RedisTimeoutError,
)


def backoff_seconds(retries: int) -> float:
    """Exponential backoff with full jitter, so a recovering database is not stampeded."""
    base = settings.BACKTEST_RETRY_BACKOFF_SECONDS * (2**retries)
    return random.uniform(0, min(base, settings.BACKTEST_RETRY_BACKOFF_MAX_SECONDS))


def _request_id(task: Task) -> str:
    return str(getattr(task.request, "request_id", None) or "")


@shared_task(
    bind=True,
    name="backtesting.backtest_execute",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=settings.BACKTEST_MAX_RETRIES,
    soft_time_limit=settings.BACKTEST_SOFT_TIME_LIMIT,
    time_limit=settings.BACKTEST_TIME_LIMIT,
)
def backtest_execute_task(self: Task, backtest_id: int) -> None:
    try:
        backtest_run(backtest_id=backtest_id)
    except TRANSIENT_ERRORS as exc:
        if self.request.retries >= (self.max_retries or 0):
            _dead_letter(self, DeadLetterKind.BACKTEST, [backtest_id], exc, backtest_id=backtest_id)
            return
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries)) from exc


@shared_task(
    bind=True,
    name="backtesting.webhook_deliver",
    acks_late=True,
    max_retries=settings.WEBHOOK_MAX_ATTEMPTS - 1,
    soft_time_limit=60,
    time_limit=90,
)
def webhook_deliver_task(self: Task, delivery_id: int) -> None:
    if webhook_deliver(delivery_id=delivery_id, attempt=self.request.retries + 1):
        return
    if self.request.retries >= (self.max_retries or 0):
        delivery_mark_dead(delivery_id=delivery_id)
        _dead_letter(self, DeadLetterKind.WEBHOOK, [delivery_id], None, delivery_id=delivery_id)
        return
    raise self.retry(countdown=backoff_seconds(self.request.retries))


@shared_task(name="backtesting.backtest_email", acks_late=True, max_retries=3)
def backtest_email_task(backtest_id: int) -> None:
    backtest_email_send(backtest_id=backtest_id)


def _dead_letter(
    task: Task, kind: str, args: list[Any], exc: BaseException | None, **target: int
) -> None:
    dead_letter_record(
        kind=kind,
        task_name=task.name,
        task_args=args,
        error=f"{type(exc).__name__}: {exc}" if exc else "The last delivery attempt failed.",
        request_id=_request_id(task),
        attempts=task.request.retries + 1,
        **target,
    )
