"""Rate limiting over the shared cache (placeholder while the real limiter lands)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


def client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


class ApiRateLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)
