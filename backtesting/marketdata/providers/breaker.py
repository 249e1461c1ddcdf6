"""pybreaker state in the Django cache: all web and worker processes share one breaker each.

With per-process memory storage each of N processes would have to fail `fail_max` times before
it stopped hammering a dead provider; in the shared cache the first process to trip it trips it
for all, and /health can report the state. Counters use cache.incr (atomic on Redis).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pybreaker
from django.conf import settings
from django.core.cache import cache

_PREFIX = "md:breaker"
# Breaker keys must outlive the reset timeout by far; a week is plenty and never grows unbounded.
_TTL = 7 * 24 * 3600


class DjangoCacheBreakerStorage(pybreaker.CircuitBreakerStorage):
    def __init__(self, name: str) -> None:
        super().__init__(name)

    def _key(self, field: str) -> str:
        return f"{_PREFIX}:{self.name}:{field}"

    @property
    def state(self) -> str:
        return cache.get(self._key("state")) or pybreaker.STATE_CLOSED

    @state.setter
    def state(self, state: str) -> None:
        cache.set(self._key("state"), state, timeout=_TTL)

    def _incr(self, field: str) -> None:
        key = self._key(field)
        if not cache.add(key, 1, timeout=_TTL):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, timeout=_TTL)

    def increment_counter(self) -> None:
        self._incr("failures")

    def reset_counter(self) -> None:
        cache.set(self._key("failures"), 0, timeout=_TTL)

    def increment_success_counter(self) -> None:
        self._incr("successes")

    def reset_success_counter(self) -> None:
        cache.set(self._key("successes"), 0, timeout=_TTL)

    @property
    def counter(self) -> int:
        return int(cache.get(self._key("failures")) or 0)

    @property
    def success_counter(self) -> int:
        return int(cache.get(self._key("successes")) or 0)

    @property
    def opened_at(self) -> datetime | None:
        value = cache.get(self._key("opened_at"))
        return datetime.fromtimestamp(value, UTC) if value is not None else None

    @opened_at.setter
    def opened_at(self, moment: datetime) -> None:
        cache.set(self._key("opened_at"), moment.timestamp(), timeout=_TTL)


def provider_breaker(name: str, *, exclude: list[type[BaseException]]) -> pybreaker.CircuitBreaker:
    """A breaker for provider `name`; `exclude` lists errors that are not the provider's fault."""
    return pybreaker.CircuitBreaker(
        fail_max=settings.MARKETDATA_BREAKER_FAIL_MAX,
        reset_timeout=settings.MARKETDATA_BREAKER_RESET_TIMEOUT,
        exclude=exclude,
        state_storage=DjangoCacheBreakerStorage(name),
        name=name,
    )


def breaker_status(name: str) -> dict[str, object]:
    """For /health: closed/half-open is up, open is down (calls fail fast)."""
    storage = DjangoCacheBreakerStorage(name)
    state = storage.state
    opened = storage.opened_at
    return {
        "ok": state != pybreaker.STATE_OPEN,
        "state": state,
        "failures": storage.counter,
        "opened_at": opened.isoformat() if opened else None,
    }
