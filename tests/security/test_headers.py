"""Security headers on every response: every route of the URL conf, error pages, static files.

tests/tradeplatform/test_headers.py pins the values on a few URLs; this walks them all, as a
signed-in user (pages and JSON views), with the API token (API), and signed out, plus the
answers given before any view runs (400, 404, 405, 413, 415, the CSRF 403) and static files.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.tokens import tokens_issue
from tests.security.matrix import ROUTES, route_path

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_rate_limits")]

REQUIRED = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-XSS-Protection": "0",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
CSP_DIRECTIVES = ["default-src 'self'", "script-src 'self'", "object-src 'none'",
                  "base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'"]  # fmt: skip


def missing_headers(response: Any) -> list[str]:
    """What the response lacks of the required headers and CSP directives."""
    missing = [f"{k}: {v}" for k, v in REQUIRED.items() if response.get(k) != v]
    directives = [d.strip() for d in response.get("Content-Security-Policy", "").split(";")]
    missing += [f"CSP {d}" for d in CSP_DIRECTIVES if d not in directives]
    if any(d.startswith("script-src") and "unsafe" in d for d in directives):
        missing.append("CSP script-src without 'unsafe-*'")
    return missing


def _clients(world) -> dict[str, Any]:
    session = Client()
    session.force_login(world.victim)
    api = APIClient()
    api.credentials(
        HTTP_AUTHORIZATION=f"Bearer {tokens_issue(world.victim, otp_verified=False)['access']}"
    )
    return {"signed in": session, "api": api, "signed out": Client()}


def test_every_route_answers_with_the_security_headers(world):
    clients = _clients(world)
    lacking = []
    for route in ROUTES.values():
        path = route_path(route, world)
        if path is None:
            continue
        for who, client in clients.items():
            if (who == "api") != route.is_api and who != "signed out":
                continue
            response = client.get(path)
            if gaps := missing_headers(response):
                lacking.append((who, path, response.status_code, gaps))
    assert lacking == []


ERROR_REQUESTS = [
    ("get", "/no-such-page/", {}),
    ("get", "/api/v1/no-such-endpoint/", {}),
    ("delete", "/strategies/", {}),  # 405 page
    ("delete", "/api/v1/auth/token/", {}),  # 405 envelope
    ("get", "/accounts/login/?" + "&".join(["a=1"] * 1001), {}),  # 400 page: too many fields
    ("post", "/api/v1/auth/token/", {"data": "x" * 2_700_000, "content_type": "application/json"}),
    ("post", "/api/v1/auth/token/", {"data": "<x/>", "content_type": "application/xml"}),  # 415
    ("post", "/accounts/login/", {"data": {"username": "x"}}),  # CSRF 403 (enforced below)
    ("get", "/api/v1/strategies/%00/", {}),  # NUL: 400 before any view
]


@pytest.mark.parametrize(("method", "path", "extra"), ERROR_REQUESTS, ids=lambda v: str(v)[:40])
def test_error_answers_carry_the_security_headers(world, method, path, extra):
    response = getattr(Client(enforce_csrf_checks=True), method)(path, **extra)
    assert response.status_code >= 400
    assert missing_headers(response) == []


@pytest.mark.parametrize("path", ["/api/t/crash/", "/page/crash/"])
def test_the_500_answers_carry_the_security_headers(client, settings, path):
    settings.ROOT_URLCONF = "tests.tradeplatform.urls_errors"
    client.raise_request_exception = False
    response = client.get(path)
    assert response.status_code == 500
    assert missing_headers(response) == []


def test_static_files_carry_the_security_headers(client, settings):
    settings.WHITENOISE_USE_FINDERS = True  # served from static/ without collectstatic
    settings.WHITENOISE_AUTOREFRESH = True
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    assert missing_headers(response) == []
