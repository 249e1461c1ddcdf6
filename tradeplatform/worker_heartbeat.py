"""Celery workers announce themselves in the shared cache; /health reads it.

A cache read is cheap enough for a probe polled every second, unlike a broadcast
`inspect ping` (which the filesystem transport cannot do at all). Next to the heartbeat,
every worker runs the backtest recovery sweep (backtesting.jobs.recovery) in its own thread,
so a slow database can never make a live worker look dead.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections

logger = logging.getLogger(__name__)

_REGISTRY_KEY = "workers:registry"
_REGISTRY_TTL = 24 * 3600


def _beat_key(hostname: str) -> str:
    return f"workers:beat:{hostname}"


def record_heartbeat(hostname: str) -> None:
    interval = settings.CELERY_WORKER_HEARTBEAT_SECONDS
    cache.set(_beat_key(hostname), time.time(), timeout=interval * 3)
    registry = set(cache.get(_REGISTRY_KEY) or [])
    if hostname not in registry:
        # Two workers starting at once may each drop the other's name; the next beat re-adds it.
        cache.set(_REGISTRY_KEY, sorted(registry | {hostname}), timeout=_REGISTRY_TTL)


def workers_seen() -> list[str]:
    registry = cache.get(_REGISTRY_KEY) or []
    beats = cache.get_many([_beat_key(name) for name in registry])
    return sorted(name for name in registry if _beat_key(name) in beats)


def start_heartbeat_thread(hostname: str) -> threading.Thread:
    def beat_forever() -> None:
        while True:
            try:
                record_heartbeat(hostname)
            except Exception:  # the cache being down must not kill the worker
                logger.warning("worker heartbeat failed", exc_info=True)
            time.sleep(settings.CELERY_WORKER_HEARTBEAT_SECONDS)

    thread = threading.Thread(target=beat_forever, name="worker-heartbeat", daemon=True)
    thread.start()
    return thread


def start_recovery_thread(hostname: str) -> threading.Thread:
    """Sweep for backtests whose message was lost, every BACKTEST_RECOVERY_INTERVAL_SECONDS."""
    from backtesting.jobs.recovery import backtest_recover_stale_if_due

    def sweep_forever() -> None:
        _use_unpooled_database()
        while True:
            try:
                backtest_recover_stale_if_due(owner=hostname)
            except Exception:  # the database being down must not kill the worker
                logger.warning("backtest recovery sweep failed", exc_info=True)
            finally:
                connections[DEFAULT_DB_ALIAS].close()  # hold no connection between sweeps
            time.sleep(settings.BACKTEST_RECOVERY_INTERVAL_SECONDS)

    thread = threading.Thread(target=sweep_forever, name="backtest-recovery", daemon=True)
    thread.start()
    return thread


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
