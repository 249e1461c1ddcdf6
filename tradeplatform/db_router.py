"""Reads from a PostgreSQL replica, with read-after-write consistency for the user who wrote.

Installed when settings.DATABASES has a "replica" alias (DATABASE_REPLICA_URL). A read goes
to the replica only when all of these hold, else to the primary ("default"):

- DATABASE_REPLICA_READS is on: by default only in web processes. Workers, beat and commands
  read the primary, so a worker's claim, lease renewal, cancel poll or recovery sweep never
  sees a lagging copy (backtesting/jobs/lifecycle.py also names the primary explicitly);
- no `primary_only()` block is active in this thread;
- this request (or task) has not written yet: after its first write it reads what it wrote;
- the primary has no transaction open in this thread: a read inside `transaction.atomic()`
  is part of that transaction (select_for_update is a write to Django, so it goes there too);
- the request does not carry the pin cookie. A response to a request that wrote sets it for
  DATABASE_REPLICA_PIN_SECONDS, so the user's next pages read the primary until the replica
  has caught up. Clients that drop cookies (scripts on the API with a token) get read-after-
  write within one request only.

ReplicaPinMiddleware scopes the per-request state; outside a request (a shell, a test) the
state lives in the thread's context.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse

PRIMARY = DEFAULT_DB_ALIAS
REPLICA = "replica"
PIN_COOKIE = "tp_db_primary"

_primary_only: ContextVar[int] = ContextVar("db_primary_only", default=0)
_wrote: ContextVar[bool] = ContextVar("db_wrote", default=False)
_pinned: ContextVar[bool] = ContextVar("db_pinned", default=False)


@contextmanager
def primary_only() -> Iterator[None]:
    """Every read inside the block goes to the primary (for reads that must not lag)."""
    token = _primary_only.set(_primary_only.get() + 1)
    try:
        yield
    finally:
        _primary_only.reset(token)


def replica_reads_allowed() -> bool:
    return bool(
        settings.DATABASE_REPLICA_READS
        and REPLICA in settings.DATABASES
        and not _primary_only.get()
        and not _wrote.get()
        and not _pinned.get()
        and not connections[PRIMARY].in_atomic_block
    )


class PrimaryReplicaRouter:
    def db_for_read(self, model: Any, **hints: Any) -> str:
        return REPLICA if replica_reads_allowed() else PRIMARY

    def db_for_write(self, model: Any, **hints: Any) -> str:
        _wrote.set(True)
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # the replica holds the same rows as the primary

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == PRIMARY  # the replica follows the primary's schema by replication


@contextmanager
def routing_scope(*, pinned: bool = False) -> Iterator[None]:
    """Fresh routing state for one request or task: nothing written yet, pinned or not."""
    wrote_token, pinned_token = _wrote.set(False), _pinned.set(pinned)
    try:
        yield
    finally:
        _wrote.reset(wrote_token)
        _pinned.reset(pinned_token)


def wrote_in_scope() -> bool:
    return _wrote.get()


class ReplicaPinMiddleware:
    """Per-request routing state, and the pin cookie after a request that wrote."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with routing_scope(pinned=PIN_COOKIE in request.COOKIES):
            response = self.get_response(request)
            # Without replica reads there is nothing to pin, and no cookie to send.
            if wrote_in_scope() and settings.DATABASE_REPLICA_READS:
                response.set_cookie(
                    PIN_COOKIE,
                    "1",
                    max_age=settings.DATABASE_REPLICA_PIN_SECONDS,
                    httponly=True,
                    samesite="Lax",
                    secure=settings.SESSION_COOKIE_SECURE,
                )
        return response
