"""A database outage answers a fast 503, and the answer never touches the database again.

- API views: tradeplatform.exception_handler maps the error to the `dependency_unavailable`
  envelope with Retry-After.
- HTML views: `DatabaseOutageMiddleware.process_exception` answers the static 503 page.
- Failures in middleware (the session's user is loaded by a middleware) reach handler500,
  which looks at the exception being handled and answers the same way.

The page is rendered without the request: no context processor runs, so neither the session,
the user nor the messages are looked up. The rest of the request sees an anonymous user, so
the middleware on the way out (access log, user context) does not query the database again.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from tradeplatform.exception_handler import error_json_response
from tradeplatform.middleware import is_api_request
from tradeplatform.postgres.outage import (
    DATABASE_UNAVAILABLE_CODE,
    DATABASE_UNAVAILABLE_MESSAGE,
    RETRY_AFTER_SECONDS,
    is_database_unavailable,
    log_database_unavailable,
)

# Probes say whether this process and its dependencies work; who is asking never matters.
PROBE_PATHS = frozenset({"/live", "/ready", "/health"})


def database_unavailable_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """503 + Retry-After: the error envelope under /api/, the static 503 page elsewhere."""
    request.user = AnonymousUser()  # the database that would say who this is is down
    log_database_unavailable(exc, request)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    response: HttpResponse
    if is_api_request(request):
        response = error_json_response(
            503, DATABASE_UNAVAILABLE_CODE, DATABASE_UNAVAILABLE_MESSAGE, headers=headers
        )
    else:
        context = {"request_id": getattr(request, "request_id", "")}
        response = HttpResponse(render_to_string("503.html", context), status=503, headers=headers)
    # Logged above as one warning; Django would add an error line with the traceback.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


class DatabaseOutageMiddleware:
    """Probes never load a session user; a view's database outage becomes the 503 answer.

    Sits after the authentication middleware (so it can replace the lazy user) and before
    ApiErrorMiddleware in the list, so its process_exception runs after that one's: the API
    keeps its own handling (the DRF exception handler), HTML views get the 503 page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info in PROBE_PATHS:
            # A probe that sends a session cookie would otherwise look the user up (access
            # log, user context), and /live must not wait on the database.
            request.user = AnonymousUser()
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_database_unavailable(exception):
            return database_unavailable_response(request, exception)
        return None
