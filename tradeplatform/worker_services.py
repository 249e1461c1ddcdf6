"""Background services every Celery worker runs beside its tasks, registered by the apps.

Like health checks (tradeplatform.apps.register_health_check), the platform knows no app's
domain: an app registers, from its `AppConfig.ready()`, a function to call every few seconds
(the job recovery sweep is one), and every worker runs each in a thread of its own once it is
ready. A failing run is logged and tried again at the next interval: a database or cache
outage must never kill the worker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerService:
    """`run(hostname)` is called every `interval()` seconds (read each time: settings may change
    in tests); `uses_database` gives the thread a plain connection, closed between runs."""

    name: str
    run: Callable[[str], object]
    interval: Callable[[], float]
    uses_database: bool = True


_services: dict[str, WorkerService] = {}


def register_worker_service(service: WorkerService) -> None:
    """Let an app run `service` in every worker (idempotent by name)."""
    _services.setdefault(service.name, service)


def registered_worker_services() -> list[WorkerService]:
    return list(_services.values())


def worker_services_start(hostname: str) -> list[threading.Thread]:
    """Start one daemon thread per registered service; called once the worker is ready."""
    return [_start(service, hostname) for service in registered_worker_services()]


# The services that use the database take turns: the connection budget gives a worker's main
# process one connection for them (tradeplatform/postgres/budget.py), however many there are.
# Two running at once (the recovery sweep and the queue-depth gauge) held two.
_database_turn = threading.Lock()


def _start(service: WorkerService, hostname: str) -> threading.Thread:
    def run_forever() -> None:
        if service.uses_database:
            _use_unpooled_database()
        while True:
            if service.uses_database:
                with _database_turn:  # its connection is closed before the turn passes
                    worker_service_run_once(service, hostname)
            else:
                worker_service_run_once(service, hostname)
            time.sleep(service.interval())

    thread = threading.Thread(target=run_forever, name=f"worker-{service.name}", daemon=True)
    thread.start()
    return thread


def worker_service_run_once(service: WorkerService, hostname: str) -> None:
    """One run of `service`; returns normally whatever the service raised."""
    try:
        service.run(hostname)
    except Exception:  # the database or cache being down must not kill the worker
        logger.warning("worker service failed", extra={"service": service.name}, exc_info=True)
    finally:
        if service.uses_database:
            connections[DEFAULT_DB_ALIAS].close()  # hold no connection between runs


def _use_unpooled_database() -> None:
    # This thread lives in the worker's main process, which forks new pool processes later
    # (after a crash, a time limit, max-tasks-per-child). A psycopg pool opened here would be
    # copied into them with its open connections, and two processes would then share one
    # socket. So this thread gets a plain connection of its own, never the process's pool.
    conn = connections[DEFAULT_DB_ALIAS]
    options = conn.settings_dict.get("OPTIONS") or {}
    if options.get("pool"):
        plain = {**conn.settings_dict, "OPTIONS": {k: v for k, v in options.items() if k != "pool"}}
        connections[DEFAULT_DB_ALIAS] = type(conn)(plain, DEFAULT_DB_ALIAS)
