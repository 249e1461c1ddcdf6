"""Rate limiting over the shared cache (django-ratelimit's counters), for every process.

- `ApiRateLimitMiddleware`: every /api/ request is counted per client IP and, when it
  carries a valid JWT or session, per user (settings.RATELIMIT_API_RATE, 60/m). Sign-in,
  sign-up and password-reset POSTs (API, HTML and the admin login) have a stricter per-IP
  limit (RATELIMIT_AUTH_RATE, 5/m); the login service adds the same limit per username.
  /live, /ready, /health and /metrics are never limited.
- `check_rate(group=..., key=..., rate=...)`: the primitive, for services. Raises
  tradeplatform.errors.RateLimitedError with `retry_after` (seconds to the window's end),
  which the API renders as 429 + Retry-After in the error envelope.
- `client_ip(request)`: REMOTE_ADDR, unless TRUSTED_PROXY_COUNT > 0: then the address that
  many hops from the right of X-Forwarded-For (the one our own proxy saw). Anything left
  of that is client-controlled and ignored.

When the cache (Redis) is down the limiter fails OPEN: the request goes through, a warning
is logged and `tradeplatform_ratelimit_backend_errors_total` counts it. An outage of a
protective layer must not take the whole API down. Logins are the exception and fail
CLOSED (`fail_open=False` -> 503): without counters, password guessing is unthrottled.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve
from django_ratelimit.core import get_usage
from prometheus_client import Counter

from tradeplatform.errors import DependencyUnavailableError, RateLimitedError
from tradeplatform.exception_handler import error_json_response
from tradeplatform.middleware import is_api_request
from tradeplatform.postgres.outage import RETRY_AFTER_SECONDS

logger = logging.getLogger("tradeplatform.ratelimit")

RATELIMIT_REJECTIONS = Counter(
    "tradeplatform_ratelimit_rejections_total",
    "Requests refused with 429 by the rate limiter.",
    ["endpoint"],
)
RATELIMIT_BACKEND_ERRORS = Counter(
    "tradeplatform_ratelimit_backend_errors_total",
    "Rate-limit checks that could not reach the cache (failed open or closed).",
    ["outcome"],
)

EXEMPT_PATHS = frozenset({"/live", "/ready", "/health", "/metrics"})
# URL names whose POSTs are credential guesses or mail bombs: the strict auth rate applies.
AUTH_ENDPOINTS = frozenset(
    {
        "auth-token",
        "auth-register",
        "auth-password-reset",
        "auth-password-reset-confirm",
        "login",
        "signup",
        "password_reset",
        "password_reset_confirm",
    }
)
_ADMIN_LOGIN_PATH = "/admin/login/"


def client_ip(request: HttpRequest) -> str:
    """The client address; X-Forwarded-For only as far as TRUSTED_PROXY_COUNT allows."""
    remote = request.META.get("REMOTE_ADDR", "") or "0.0.0.0"  # noqa: S104 - a key, not a bind
    hops = settings.TRUSTED_PROXY_COUNT
    if hops <= 0:
        return remote
    forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [p for p in forwarded if p]
    # Each trusted proxy appends the address it saw; the client is `hops` from the right.
    return forwarded[-hops] if len(forwarded) >= hops else remote


def check_rate(
    request: HttpRequest,
    *,
    group: str,
    key: str,
    rate: str,
    endpoint: str | None = None,
    fail_open: bool = True,
) -> None:
    """Count one hit of `key` in `group`; RateLimitedError when over `rate` ("5/m")."""
    try:
        usage = get_usage(request, group=group, key=lambda _g, _r: key, rate=rate, increment=True)
    except Exception as exc:  # redis.ConnectionError, TimeoutError, OSError...
        _backend_failed(group, exc, fail_open)
        return
    if usage is None:  # limiting switched off
        return
    if usage["time_left"] < 0 and usage["limit"] == 0:
        # django-ratelimit's own "the cache failed" answer.
        _backend_failed(group, None, fail_open)
        return
    if usage["should_limit"]:
        RATELIMIT_REJECTIONS.labels(endpoint or group).inc()
        retry_after = max(1, math.ceil(usage["time_left"]))
        raise RateLimitedError(
            f"Too many requests; retry in {retry_after} seconds.",
            retry_after=retry_after,
            details={"limit": rate},
        )


def _backend_failed(group: str, exc: Exception | None, fail_open: bool) -> None:
    outcome = "open" if fail_open else "closed"
    RATELIMIT_BACKEND_ERRORS.labels(outcome).inc()
    logger.warning(
        "rate limiter unavailable; failing %s",
        outcome,
        extra={"group": group, "error": repr(exc), "event": "ratelimit_backend_error"},
    )
    if not fail_open:
        raise DependencyUnavailableError("Sign-in is temporarily unavailable; try again shortly.")


def _endpoint_name(request: HttpRequest) -> str:
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return "unknown"
    return match.url_name or match.route or "unknown"


def _jwt_user_id(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    from rest_framework_simplejwt.exceptions import TokenError
    from rest_framework_simplejwt.settings import api_settings
    from rest_framework_simplejwt.tokens import AccessToken

    try:  # signature and expiry are checked; a forged id cannot spend someone's budget
        # SimpleJWT annotates the encoded token as `Token | None`; it takes the str.
        token = AccessToken(header.removeprefix("Bearer ").strip())  # type: ignore[arg-type]
    except TokenError:
        return None
    return str(token.get(api_settings.USER_ID_CLAIM, "")) or None


def _user_key(request: HttpRequest) -> str | None:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return str(user.pk)
    return _jwt_user_id(request)


class ApiRateLimitMiddleware:
    """Per-IP and per-user limits on the API, strict per-IP limits on sign-in forms."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            self._check(request)
        except RateLimitedError as exc:
            return self._limited_response(request, exc)
        except DependencyUnavailableError as exc:
            return self._unavailable_response(request, exc)
        return self.get_response(request)

    def _check(self, request: HttpRequest) -> None:
        path = request.path_info
        if path in EXEMPT_PATHS or not settings.RATELIMIT_ENABLE:
            return
        is_api = path.startswith("/api/")
        endpoint = _endpoint_name(request) if is_api or request.method == "POST" else ""
        ip = client_ip(request)
        if request.method == "POST" and (endpoint in AUTH_ENDPOINTS or path == _ADMIN_LOGIN_PATH):
            check_rate(
                request,
                group=f"auth:{endpoint}",
                key=ip,
                rate=settings.RATELIMIT_AUTH_RATE,
                endpoint=endpoint,
                fail_open=False,
            )
        if not is_api:
            return
        rate = settings.RATELIMIT_API_RATE
        check_rate(request, group="api:ip", key=ip, rate=rate, endpoint=endpoint)
        user_key = _user_key(request)
        if user_key:
            check_rate(request, group="api:user", key=user_key, rate=rate, endpoint=endpoint)

    def _unavailable_response(
        self, request: HttpRequest, exc: DependencyUnavailableError
    ) -> HttpResponse:
        """Sign-in while the counters are unreachable: the envelope, or a page a browser shows."""
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if is_api_request(request):
            return error_json_response(503, exc.code, exc.message, headers=headers)
        context = {"message": exc.message, "request_id": getattr(request, "request_id", "")}
        return HttpResponse(render_to_string("503.html", context), status=503, headers=headers)

    def _limited_response(self, request: HttpRequest, exc: RateLimitedError) -> HttpResponse:
        headers = {"Retry-After": str(exc.retry_after or 60)}
        if request.path_info.startswith("/api/"):
            return error_json_response(429, exc.code, exc.message, exc.details, headers=headers)
        from django.shortcuts import render

        response = render(
            request, "accounts/rate_limited.html", {"message": exc.message}, status=429
        )
        response["Retry-After"] = headers["Retry-After"]
        return response
