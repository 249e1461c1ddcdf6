"""Between two tasks a worker process gives its connection back to the pool and keeps the pool.

Celery's own Django fix-up closed the whole pool at every task boundary of a prefork worker
(celery/celery#10554), so every task opened new PostgreSQL connections before its first query.
tradeplatform/celery_fixup.py replaces it; these tests drive the task-boundary and
process-start hooks as a prefork worker calls them, against the real database pool.
"""

from __future__ import annotations

from typing import Any

import pytest
from celery.fixups import django as celery_django
from django.db import connection as default_connection

from tradeplatform.celery import app
from tradeplatform.celery_fixup import PoolKeepingDjangoFixup, PoolKeepingWorkerFixup

pytestmark = pytest.mark.django_db(transaction=True)
connection: Any = default_connection  # on PostgreSQL it has a `pool` (Django's stubs know none)


class _PreforkWorker:
    """What the fix-ups read of the worker: its pool is prefork."""

    pool_cls = "celery.concurrency.prefork:TaskPool"


class _Task:
    class request:  # the shape of celery.Task.request
        is_eager = False


def _worker_fixup(cls: Any) -> Any:
    fixup = cls(app)
    fixup.worker = _PreforkWorker()
    return fixup


def _pool() -> Any:
    if connection.vendor != "postgresql":
        pytest.skip("the connection pool is psycopg's, on PostgreSQL")
    connection.ensure_connection()
    return connection.pool


def _task_boundary(fixup: Any) -> None:
    fixup.on_task_postrun(sender=_Task())  # the end of one task...
    fixup.on_task_prerun(sender=_Task())  # ...and the start of the next


def test_the_app_installs_the_pool_keeping_fixup() -> None:
    installed = vars(app)["_fixups"]  # the fix-ups Celery instantiated for the app
    assert [type(f) for f in installed] == [PoolKeepingDjangoFixup]
    assert isinstance(installed[0].worker_fixup, PoolKeepingWorkerFixup)


def test_a_task_boundary_gives_the_connection_back_and_opens_none() -> None:
    pool = _pool()
    opened = pool.get_stats()["connections_num"]
    _task_boundary(_worker_fixup(PoolKeepingWorkerFixup))
    assert connection.connection is None, "the task's connection went back to the pool"
    connection.ensure_connection()
    assert connection.pool is pool, "the same pool serves the next task"
    assert pool.get_stats()["connections_num"] == opened, "no new server connection"
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_a_pool_inherited_through_the_fork_is_still_closed_when_the_process_starts() -> None:
    pool = _pool()
    _worker_fixup(PoolKeepingWorkerFixup).on_worker_process_init()
    connection.ensure_connection()
    assert connection.pool is not pool and pool.closed


def test_the_main_process_closes_its_pool_before_it_forks_its_pool_processes() -> None:
    # An idle connection left in it would be inherited and closed by a starting pool process,
    # ending the main process's PostgreSQL session under it (the connection budget test saw
    # one session more than a worker's share).
    pool = _pool()
    _worker_fixup(PoolKeepingWorkerFixup).install()
    assert pool.closed and connection.connection is None


def test_celerys_own_fixup_still_closes_the_pool_at_every_task() -> None:
    # Why ours exists (celery/celery#10554). When this fails, Celery keeps pools itself and
    # tradeplatform/celery_fixup.py can go.
    pool = _pool()
    _task_boundary(_worker_fixup(celery_django.DjangoWorkerFixup))  # type: ignore[attr-defined]
    connection.ensure_connection()
    assert connection.pool is not pool and pool.closed
