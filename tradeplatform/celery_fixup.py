"""Celery's Django fix-up, except that a worker process keeps its database pool between tasks.

Celery 5.7's fix-up (celery.fixups.django) closes Django's connection pool before and after
every task of a prefork worker (celery/celery#10554, open; its fix #10555 is unreleased), so
each task built a new pool and waited for it to open `DB_POOL_MIN_SIZE` new PostgreSQL
connections, each a new server process, before its first query: 15-17 ms of every backtest's
latency at load 3 (the claim's first statement), plus the server's cost of those processes.

Here a task's connections go back to the pool when it ends, as Django gives them back after a
request (`close_old_connections`: with CONN_MAX_AGE 0 each is returned, and one left broken or
mid-transaction is discarded; the pool's check tests the next one handed out). What the
stock fix-up does around the fork is kept: the worker's main process closes its pool before it
forks, and the pool inherited through the fork is closed when a pool process starts, so no two
processes ever share one (`_close_database`, unchanged).
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.fixups import django as celery_django
from celery.fixups.django import DjangoFixup

# Read from the module: the type stubs (celery-types) do not declare this 5.x class.
DjangoWorkerFixup: Any = celery_django.DjangoWorkerFixup  # type: ignore[attr-defined]


class PoolKeepingWorkerFixup(DjangoWorkerFixup):
    def install(self) -> Any:
        installed = super().install()
        # Installed in the worker's main process, before it forks its pool processes: the whole
        # pool is closed there, as the stock fix-up does. Left open (install() calls
        # close_database, which keeps it below), a forked pool process inherited its idle
        # connections and closed them as it started (on_worker_process_init), which ends their
        # PostgreSQL sessions for the main process too (Terminate on the shared socket): the
        # main process's next query found its connection dead and opened another, one more
        # session than its share for a moment.
        self._close_database()
        return installed

    def close_database(self, **kwargs: Any) -> None:
        # Before and after each task (the stock version closes the whole pool here).
        self._db.close_old_connections()  # type: ignore[attr-defined]


class PoolKeepingDjangoFixup(DjangoFixup):
    _worker_fixup: Any

    @property
    def worker_fixup(self) -> Any:
        if self._worker_fixup is None:
            self._worker_fixup = PoolKeepingWorkerFixup(self.app)
        return self._worker_fixup

    @worker_fixup.setter
    def worker_fixup(self, value: Any) -> None:
        self._worker_fixup = value


def fixup(app: Celery, env: str = "DJANGO_SETTINGS_MODULE") -> DjangoFixup | None:
    """Installed in place of celery.fixups.django:fixup (tradeplatform/celery.py)."""
    if not os.environ.get(env):
        return None
    installed = PoolKeepingDjangoFixup(app)
    installed.install()
    return installed
