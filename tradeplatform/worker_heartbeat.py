"""Celery workers announce themselves in the shared cache; /health reads it.

A cache read is cheap enough for a probe polled every second, unlike a broadcast
`inspect ping` (which the filesystem transport cannot do at all). Next to the heartbeat,
every worker runs the services apps registered (tradeplatform.worker_services, e.g. the job
recovery sweep), each in its own thread, so a slow database can never make a live worker
look dead.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.core.cache import cache

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
