"""CSRF: every route a signed-in browser can POST to refuses a POST without the token.

Generated from the URL conf: each route (filled with the signed-in victim's own objects, so
the POST would succeed with a token) gets a POST from a session without the CSRF token. A
page answers the 403 page (or 405 when it takes no POST), the API the 403 envelope, and no
row changes. A page form POSTed with its token still works (the check is not just broken).
"""

from __future__ import annotations

import pytest
from django.test import Client

from strategies.models import Strategy
from tests.factories import DEFAULT_PASSWORD, SMA_CROSS_CODE
from tests.security.matrix import ROUTES, route_path
from tests.security.world import database_snapshot, snapshot_changes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_rate_limits")]

# Probes and the metrics endpoint take no session and write nothing.
NOT_SESSION_ROUTES = {"live", "ready", "health", "metrics"}
FORM = {
    "name": "posted cross-site", "description": "x", "code": SMA_CROSS_CODE, "shared": "on",
    "username": "victim", "password": DEFAULT_PASSWORD, "email": "x@example.com",
    "display_name": "posted cross-site", "old_password": DEFAULT_PASSWORD,
    "new_password1": "An0ther-long-secret", "new_password2": "An0ther-long-secret",
    "kind": "lookahead", "n_checks": "2", "otp": "123456",
}  # fmt: skip
# The admin's own forms, beside the routes of the URL conf (the admin is walked by Django).
ADMIN_PATHS = ["/admin/login/", "/admin/logout/", "/admin/accounts/user/add/"]


def _posted_paths(world) -> list[str]:
    paths = [
        path
        for pattern, route in sorted(ROUTES.items())
        if route.name not in NOT_SESSION_ROUTES and (path := route_path(route, world))
    ]
    return paths + ADMIN_PATHS


def _session(world) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.victim)
    return client


def test_no_route_accepts_a_post_without_the_csrf_token(world):
    client = _session(world)
    before = database_snapshot()
    accepted = []
    for path in _posted_paths(world):
        response = client.post(path, FORM)
        if path.startswith("/api/v1/"):
            # Token and sign-up endpoints authenticate no session, so need no CSRF token,
            # and take JSON only: a form (all a cross-site page can send) is a 415.
            ok = response.status_code in (403, 405, 415) and "error" in response.json()
        else:
            ok = response.status_code in (403, 405)
        if not ok:
            accepted.append((path, response.status_code))
    assert accepted == [], f"answered a POST without the CSRF token: {accepted}"
    assert snapshot_changes(before, database_snapshot()) == []


def test_the_csrf_failure_is_a_403_page_without_details(world):
    response = _session(world).post(f"/strategies/{world.strategy.pk}/delete/", {"confirm": "1"})
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    assert b"Traceback" not in response.content and b"csrfmiddlewaretoken" not in response.content


def test_the_session_api_refuses_a_write_without_the_token(world):
    response = _session(world).post(
        "/api/v1/strategies/",
        {"name": "x", "code": SMA_CROSS_CODE},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not Strategy.objects.filter(name="x").exists()


def test_the_same_post_with_its_token_goes_through(world):
    """The control: the refusals above are the CSRF check's, not a broken form."""
    client = _session(world)
    page = client.get(f"/strategies/{world.strategy.pk}/delete/")
    token = page.context["csrf_token"]
    response = client.post(
        f"/strategies/{world.strategy.pk}/delete/", {"csrfmiddlewaretoken": str(token)}
    )
    assert response.status_code == 302
    world.strategy.refresh_from_db()
    assert world.strategy.archived_at is not None
