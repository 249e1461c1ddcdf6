"""The shared cache where it is only an accelerator: an error is a miss, never a failure.

Bars, the cancel flag and the recovery sweep's lock all have the database behind them, so a
Redis outage must slow them down, not turn a backtest submit into a 500 or kill a running
job. Each function here does what Django's cache method of the same name does, except that
a cache error (Redis refused or timed out, django-redis' ConnectionInterrupted, a file-cache
OSError) is logged and answered as "not cached".

Only the first error after the cache last worked is logged at once; later ones at most every
WARNING_INTERVAL_SECONDS per process, with the count of those left out. A backtest over many
symbols would otherwise log one warning per symbol, per request, for the whole outage.

Rate limits and sign-in lockouts deliberately do not use this module: for them a missing
counter is a security decision (tradeplatform/ratelimit.py, accounts/security.py).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.core.cache import cache
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# RedisError covers ConnectionError and TimeoutError; django-redis raises either those or
# ConnectionInterrupted; the file cache (the embedded default) raises OSError.
CACHE_ERRORS: tuple[type[Exception], ...] = (RedisError, ConnectionInterrupted, OSError)
WARNING_INTERVAL_SECONDS = 60.0


class _OutageLog:
    """Throttles the "cache unavailable" warning of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failing = False
        self._last_warning = 0.0
        self._left_out = 0

    def failed(self, operation: str, exc: Exception) -> None:
        now = time.monotonic()
        with self._lock:
            due = not self._failing or now - self._last_warning >= WARNING_INTERVAL_SECONDS
            if not due:
                self._left_out += 1
                return
            left_out, self._left_out = self._left_out, 0
            self._failing, self._last_warning = True, now
        logger.warning(
            "cache unavailable; going without it",
            extra={"event": "cache_unavailable", "operation": operation, "error": repr(exc),
                   "warnings_left_out": left_out},
        )  # fmt: skip

    def worked(self) -> None:
        if self._failing:  # unlocked read: at worst one more warning in the next outage
            with self._lock:
                self._failing = False
            logger.info("cache available again", extra={"event": "cache_available"})


_outage = _OutageLog()


def soft_get(key: str) -> Any:
    """The cached value, or None when it is absent or the cache cannot be reached."""
    try:
        value = cache.get(key)
    except CACHE_ERRORS as exc:
        _outage.failed("get", exc)
        return None
    _outage.worked()
    return value


def soft_set(key: str, value: Any, timeout: float | None) -> bool:
    """Store `value`; False when the cache cannot be reached (the value is simply not cached)."""
    try:
        cache.set(key, value, timeout=timeout)
    except CACHE_ERRORS as exc:
        _outage.failed("set", exc)
        return False
    _outage.worked()
    return True


def soft_add(key: str, value: Any, timeout: float | None) -> bool | None:
    """cache.add: True if stored, False if the key existed, None if the cache is unreachable."""
    try:
        added = cache.add(key, value, timeout=timeout)
    except CACHE_ERRORS as exc:
        _outage.failed("add", exc)
        return None
    _outage.worked()
    return bool(added)


def soft_delete(key: str) -> None:
    """Delete `key`; an unreachable cache is logged and otherwise ignored."""
    try:
        cache.delete(key)
    except CACHE_ERRORS as exc:
        _outage.failed("delete", exc)
        return
    _outage.worked()
