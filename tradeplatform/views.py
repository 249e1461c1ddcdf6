"""The error handlers: JSON under /api/, friendly HTML elsewhere.

The front page ("/") is backtesting.views.dashboard: it reads the apps, which this package
never imports."""

from __future__ import annotations

import sys

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string

from tradeplatform.database_outage import database_unavailable_response
from tradeplatform.exception_handler import error_json_response
from tradeplatform.middleware import is_api_request
from tradeplatform.postgres.outage import is_database_unavailable

_ERRORS = {
    400: ("bad_request", "The request could not be understood."),
    403: ("permission_denied", "You do not have permission to do this."),
    404: ("not_found", "Not found."),
    500: ("internal_error", "Something went wrong on our side; quote the request_id."),
}


def _error_response(request: HttpRequest, status: int) -> HttpResponse:
    code, message = _ERRORS[status]
    if is_api_request(request):
        return error_json_response(status, code, message)
    context = {
        "status": status,
        "message": message,
        "request_id": getattr(request, "request_id", ""),
    }
    if status >= 500:
        # Without the request, no context processor runs: the page needs neither the session
        # nor the database, either of which may be what just failed.
        return HttpResponse(render_to_string(f"{status}.html", context), status=status)
    return render(request, f"{status}.html", context, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_response(request, 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_response(request, 403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_response(request, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls handler500 while handling the exception, without passing it: a database
    # outage met in a middleware (the session's user) is recognised here.
    exception = sys.exc_info()[1]
    if exception is not None and is_database_unavailable(exception):
        return database_unavailable_response(request, exception)
    return _error_response(request, 500)
