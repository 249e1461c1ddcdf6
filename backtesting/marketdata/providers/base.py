"""The provider interface and the one HTTP client every provider uses.

The client owns the resilience policy so each provider only says how to build a URL and how to
read the answer: a timeout on every call; retries with exponential backoff and full jitter on
transient failures only (timeouts, connection errors, 429 honouring Retry-After, 5xx); and a
circuit breaker, checked before each attempt, that makes callers fail fast while it is open.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import date
from email.utils import parsedate_to_datetime
from typing import ClassVar

import pybreaker
import tenacity
from django.conf import settings
from django.utils import timezone

from backtesting.marketdata.errors import (
    ProviderDataError,
    ProviderError,
    ProviderUnavailableError,
    TransientProviderError,
)
from backtesting.marketdata.providers.breaker import provider_breaker

_TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
_MAX_BODY_BYTES = 50 * 1024 * 1024


class BarProvider(ABC):
    """A source of daily bars. Subclasses set `name` and implement `daily_bars_csv`."""

    name: ClassVar[str]
    user_agent = "tradeplatform-marketdata/1.0"

    def __init__(self, *, sleep: Callable[[float], None] | None = None) -> None:
        self._sleep = sleep or tenacity.nap.sleep
        self.breaker = provider_breaker(self.name, exclude=[ProviderDataError])

    @abstractmethod
    def daily_bars_csv(self, symbol: str, start: date, end: date) -> bytes:
        """CSV bytes (header Date,Open,High,Low,Close[,Volume]) of daily bars in [start, end]."""

    def get(self, url: str) -> bytes:
        """GET `url` with timeout, retries and the breaker; raises a ProviderError subclass."""
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(TransientProviderError),
            stop=tenacity.stop_after_attempt(settings.MARKETDATA_HTTP_ATTEMPTS),
            wait=_RetryAfterOrBackoff(),
            sleep=self._sleep,
            reraise=True,
        )
        return retrying(self._get_once, url)

    def _get_once(self, url: str) -> bytes:
        try:
            return self.breaker.call(self._request, url)
        except pybreaker.CircuitBreakerError as exc:
            raise ProviderUnavailableError(details={"provider": self.name}) from exc

    def _request(self, url: str) -> bytes:
        request = urllib.request.Request(url, headers={"User-Agent": self.user_agent})  # noqa: S310
        try:
            with urllib.request.urlopen(  # noqa: S310 - http(s) URL built from a setting
                request, timeout=settings.MARKETDATA_HTTP_TIMEOUT
            ) as response:
                return response.read(_MAX_BODY_BYTES)
        except urllib.error.HTTPError as exc:
            raise _http_error(exc) from exc
        except (TimeoutError, ConnectionError, http.client.HTTPException) as exc:
            raise TransientProviderError(f"{self.name}: {type(exc).__name__}") from exc
        except urllib.error.URLError as exc:
            raise TransientProviderError(f"{self.name}: {exc.reason}") from exc


def _http_error(exc: urllib.error.HTTPError) -> ProviderError:
    if exc.code in _TRANSIENT_STATUS:
        retry_after = _parse_retry_after(exc.headers.get("Retry-After"))
        return TransientProviderError(f"HTTP {exc.code}", retry_after=retry_after)
    return ProviderDataError(f"HTTP {exc.code}")


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
    except (TypeError, ValueError):
        return None


class _RetryAfterOrBackoff(tenacity.wait.wait_base):
    """Wait what a 429/503 Retry-After asks (capped), else exponential backoff with jitter."""

    def __init__(self) -> None:
        self.backoff = tenacity.wait_exponential_jitter(
            multiplier=settings.MARKETDATA_HTTP_BACKOFF_INITIAL,
            max=settings.MARKETDATA_HTTP_BACKOFF_MAX,
        )

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), settings.MARKETDATA_HTTP_BACKOFF_MAX)
        return self.backoff(retry_state)
