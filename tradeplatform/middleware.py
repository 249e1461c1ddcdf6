"""Request middleware: ids, access log, security headers, request guard, user, API errors."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import get_resolver, get_urlconf

from tradeplatform.exception_handler import error_json_response, log_unhandled_exception
from tradeplatform.metrics import sample_process_resources
from tradeplatform.request_context import (
    REQUEST_ID_HEADER,
    is_well_formed_request_id,
    new_request_id,
    request_id_var,
    user_id_var,
)

GetResponse = Callable[[HttpRequest], HttpResponse]
ErrorHandler = Callable[[HttpRequest, Exception], HttpResponse]  # handler400 and friends
access_logger = logging.getLogger("tradeplatform.access")

API_PREFIX = "/api/"
# Swagger UI and ReDoc inject styles at run time; scripts stay same-origin only.
_DOCS_PATHS = ("/api/docs/", "/api/redoc/")
_DOCS_STYLE_POLICY = "style-src 'self' 'unsafe-inline'; worker-src 'self' blob:"


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


class RequestIdMiddleware:
    """Accept a well-formed X-Request-ID or make one; echo it and log with it."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER)
        request_id: str = (
            incoming if incoming and is_well_formed_request_id(incoming) else new_request_id()
        )
        request.request_id = request_id  # type: ignore[attr-defined]
        request_token = request_id_var.set(request_id)
        user_token = user_id_var.set(None)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(request_token)
            user_id_var.reset(user_token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class RequestUserContextMiddleware:
    """Put the authenticated user's id on the log context (after session auth ran)."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            user_id_var.set(user.pk)
        return self.get_response(request)


class AccessLogMiddleware:
    """One line per request with method, path, status and duration; slow ones at warning."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        slow = duration_ms > settings.SLOW_REQUEST_MS
        # JWT auth runs inside the DRF view, after RequestUserContextMiddleware.
        user = getattr(request, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            user_id_var.set(user.pk)
        access_logger.log(
            logging.WARNING if slow else logging.INFO,
            "slow request" if slow else "request finished",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": duration_ms,
                "slow": slow,
            },
        )
        sample_process_resources()
        return response


class CspNonce:
    """A per-request nonce for style-src, made only when a page renders it.

    The code editor (CodeMirror) injects its styles in a <style> element, which
    `style-src 'self'` refuses; the page hands it this nonce (`{{ request.csp_nonce }}`).
    Pages that never render it keep the policy without a nonce.
    """

    def __init__(self) -> None:
        self._value = ""

    def __str__(self) -> str:
        if not self._value:
            self._value = secrets.token_urlsafe(18)
        return self._value

    @property
    def used(self) -> bool:
        return bool(self._value)


class SecurityHeadersMiddleware:
    """Headers Django's SecurityMiddleware does not set (CSP, X-XSS-Protection, ...)."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        nonce = request.csp_nonce = CspNonce()  # type: ignore[attr-defined]
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if request.path.startswith(_DOCS_PATHS):
            policy = policy.replace("style-src 'self'", _DOCS_STYLE_POLICY)
        elif nonce.used:
            policy = policy.replace("style-src 'self'", f"style-src 'self' 'nonce-{nonce}'")
        response.setdefault("Content-Security-Policy", policy)
        # OWASP: the legacy XSS auditor is itself exploitable; "0" switches it off and the CSP
        # above does the real work.
        response.setdefault("X-XSS-Protection", "0")
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        response.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        return response


class RequestGuardMiddleware:
    """Refuse, before any view runs, requests the app would otherwise answer wrongly.

    - A chunked body (no Content-Length) is refused with 411: Django reads a body only as
      far as Content-Length says, so the view would see an empty body and answer as if the
      client had sent none ("this field is required").
    - A NUL byte in the path or the query string is a 400: PostgreSQL refuses NUL in text,
      so a lookup with one failed deep in the ORM as a 500. No route takes one.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            return error_json_response(
                411,
                "length_required",
                "Send the body with a Content-Length header; chunked request bodies are not "
                "accepted.",
            )
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "%00" in query or "\x00" in query:
            handler: ErrorHandler = get_resolver(get_urlconf()).resolve_error_handler(400)  # type: ignore[assignment]
            return handler(request, SuspiciousOperation("NUL byte in the request target"))
        return self.get_response(request)


_STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    411: "length_required",
    413: "request_too_large",
    429: "rate_limited",
}


# What the client must be told whoever produced the error (RFC 9110: Allow on a 405,
# WWW-Authenticate on a 401): kept when the body is replaced by the envelope.
_KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")


class ApiErrorMiddleware:
    """The API always answers errors in the envelope, whoever produced them.

    Unhandled exceptions under /api/ become the 500 envelope (HTML keeps handler500), and
    error pages rendered outside DRF (an unknown URL, DEBUG's technical 404, a CSRF
    failure) are replaced by the envelope with the same status.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            is_api_request(request)
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            status = response.status_code
            code = _STATUS_CODES.get(status, "internal_error" if status >= 500 else "error")
            message = (
                response.reason_phrase if status < 500 else "Something went wrong on our side."
            )
            kept = {name: response[name] for name in _KEPT_HEADERS if name in response}
            return error_json_response(status, code, message, headers=kept)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # 404 and 403 are answered by handler404/handler403, which speak JSON under /api/.
        if not is_api_request(request) or isinstance(exception, (Http404, PermissionDenied)):
            return None
        if isinstance(exception, RequestDataTooBig):
            return error_json_response(413, "request_too_large", "The request body is too large.")
        if isinstance(exception, SuspiciousOperation):
            return None  # Django logs it and answers handler400: the envelope under /api/
        log_unhandled_exception(exception, request)
        return error_json_response(
            500, "internal_error", "Something went wrong on our side; quote the request_id."
        )
