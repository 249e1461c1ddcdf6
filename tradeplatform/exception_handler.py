"""One JSON error envelope for every API error.

    {"error": {"code": str, "message": str, "details": any, "request_id": str}}

The DRF handler covers exceptions raised inside API views; `ApiErrorMiddleware` and
the handler404/handler500 views cover what happens outside them (unknown URLs,
middleware failures).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import set_rollback

from tradeplatform.errors import DomainError, RateLimitedError
from tradeplatform.postgres.outage import (
    DATABASE_UNAVAILABLE_CODE,
    DATABASE_UNAVAILABLE_MESSAGE,
    RETRY_AFTER_SECONDS,
    is_database_unavailable,
    log_database_unavailable,
)
from tradeplatform.request_context import current_request_id

logger = logging.getLogger("tradeplatform.errors")

# RFC 9110: a 401 MUST say how to authenticate. The same challenge as the JWT authentication
# class and AuthApiView offer, for 401s that do not come from an authentication class.
WWW_AUTHENTICATE = 'Bearer realm="api"'

_DRF_MESSAGES = {
    "not_authenticated": "Authentication credentials were not provided.",
    "authentication_failed": "The credentials are not valid.",
    "permission_denied": "You do not have permission to do this.",
    "not_found": "Not found.",
    "method_not_allowed": "This method is not allowed on this resource.",
    "throttled": "Too many requests; slow down.",
    "parse_error": "The request body could not be parsed.",
    "unsupported_media_type": "Unsupported media type.",
    "not_acceptable": "The requested response format is not available.",
}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "details": details,
            "request_id": current_request_id(),
        }
    }


def error_json_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JsonResponse:
    return JsonResponse(error_body(code, message, details), status=status, headers=headers)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF EXCEPTION_HANDLER: every exception from an API view becomes the envelope."""
    set_rollback()  # any error in a view leaves no half-written rows behind
    _render_as_json(context.get("request"))
    response = _error_response(exc, context)
    if response.status_code == 401 and "WWW-Authenticate" not in response:
        response["WWW-Authenticate"] = WWW_AUTHENTICATE
    return response


def _render_as_json(request: Any) -> None:
    # The envelope is JSON even when the client negotiated CSV. Left to a CSV renderer the
    # error rendered as an empty text/csv body, which ApiErrorMiddleware then replaced with
    # a fresh envelope, dropping Allow, WWW-Authenticate and Retry-After on the way.
    if request is not None:
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type


def _error_response(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, DomainError):
        return _domain_error_response(exc)
    if isinstance(exc, RequestDataTooBig):
        # Raised while DRF parses a body over DATA_UPLOAD_MAX_MEMORY_SIZE: the client's fault.
        return Response(
            error_body("request_too_large", "The request body is too large."), status=413
        )
    if isinstance(exc, SuspiciousOperation):
        # More than DATA_UPLOAD_MAX_NUMBER_FIELDS query parameters, a malformed multipart
        # body...: the client's request is at fault, as Django's own handler400 says.
        log_suspicious_request(exc)
        return Response(
            error_body("bad_request", "The request could not be understood."), status=400
        )
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    if isinstance(exc, drf_exceptions.APIException):
        return _drf_error_response(exc)
    if is_database_unavailable(exc):
        log_database_unavailable(exc, context.get("request"))
        return _database_unavailable_response()
    log_unhandled_exception(exc, context.get("request"))
    return Response(
        error_body("internal_error", "Something went wrong on our side; quote the request_id."),
        status=500,
    )


def _database_unavailable_response() -> Response:
    response = Response(
        error_body(DATABASE_UNAVAILABLE_CODE, DATABASE_UNAVAILABLE_MESSAGE),
        status=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
    # Logged once as a warning (no traceback: an outage is not a bug); not again by Django.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _domain_error_response(exc: DomainError) -> Response:
    headers = {}
    if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    return Response(
        error_body(exc.code, exc.message, exc.details), status=exc.status_code, headers=headers
    )


def _drf_error_response(exc: drf_exceptions.APIException) -> Response:
    code = exc.get_codes() if isinstance(exc, drf_exceptions.ValidationError) else exc.default_code
    headers: dict[str, str] = {}
    if isinstance(exc, drf_exceptions.ValidationError):
        body = error_body("validation_error", "The request is not valid.", exc.detail)
    else:
        code = str(code)
        message = _DRF_MESSAGES.get(code, str(exc.detail))
        if isinstance(exc.detail, str) and code not in ("not_found", "permission_denied"):
            message = str(exc.detail)
        body = error_body(code, message)
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    wait = getattr(exc, "wait", None)
    if wait is not None:
        headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return Response(body, status=exc.status_code, headers=headers)


def log_suspicious_request(exc: SuspiciousOperation) -> None:
    # The logger Django's own handler uses for these, so security alerts see both paths.
    logging.getLogger(f"django.security.{type(exc).__name__}").error(str(exc))


def log_unhandled_exception(exc: BaseException, request: HttpRequest | None) -> None:
    # The traceback goes to the error log only; the client sees the request id.
    logger.error(
        "unhandled exception",
        exc_info=(type(exc), exc, exc.__traceback__),
        extra={
            "path": getattr(request, "path", None),
            "method": getattr(request, "method", None),
            "exception_type": type(exc).__name__,
        },
    )
