"""Another user's objects, tried with every method on every object route: 404, nothing changed.

The matrix (tests/security/matrix.py) is generated from the URL conf: every route with a
captured parameter is either an object route (with the victim's object it names) or an
exemption with its reason, so a new object endpoint fails
`test_every_route_with_a_parameter_is_in_the_matrix` until it is covered. For each route and
method the intruder's answer about the victim's object must be the answer about an object
that does not exist (404, or 405 for a method the route does not have), must not show the
victim's data, and must leave every table as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import SMA_CROSS_CODE
from tests.security.matrix import EXEMPT_ROUTES, OBJECT_ROUTES, ROUTES
from tests.security.routes import Route
from tests.security.world import MISSING_ID, World, database_snapshot, snapshot_changes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_rate_limits")]

API_METHODS = ("get", "post", "put", "patch", "delete")
PAGE_METHODS = ("get", "post")
# What a request would write if the route forgot whose object it is: a new name, shared,
# new code, a new webhook URL; a run's kind and parameters. Pages read the same as a form.
HOSTILE_BODY = {
    "name": "taken over",
    "description": "taken over",
    "code": SMA_CROSS_CODE + "\n# taken over\n",
    "shared": True,
    "url": "https://93.184.216.34/stolen",
    "kind": "lookahead",
    "parameters": {"n_checks": 2},
    "confirm": "yes",
}
HOSTILE_FORM = {**HOSTILE_BODY, "parameters": "", "n_checks": "2"}


def test_every_route_with_a_parameter_is_in_the_matrix():
    parameterised = {pattern for pattern, route in ROUTES.items() if route.parameters}
    unlisted = parameterised - OBJECT_ROUTES.keys() - EXEMPT_ROUTES.keys()
    assert not unlisted, f"object routes missing from the ownership matrix: {sorted(unlisted)}"
    stale = (OBJECT_ROUTES.keys() | EXEMPT_ROUTES.keys()) - parameterised
    assert not stale, f"the matrix names routes that no longer exist: {sorted(stale)}"


def intruder_clients(world: World) -> tuple[APIClient, Client]:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {world.intruder_token}")
    pages = Client()
    pages.force_login(world.intruder)
    return api, pages


def _send(client: Any, route: Route, method: str, path: str) -> Any:
    if route.is_api:
        return getattr(client, method)(path, HOSTILE_BODY, format="json")
    if method == "post":
        return client.post(path, HOSTILE_FORM)
    return client.get(path)


def _with_missing_ids(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: MISSING_ID if k == "pk" else v for k, v in kwargs.items()}


def _victims_words(world: World) -> list[bytes]:
    """Text only the victim's objects contain: none may appear in the intruder's answer."""
    return [world.strategy.name.encode(), world.webhook.url.encode(), b"victim"]


@pytest.mark.parametrize("pattern", sorted(OBJECT_ROUTES))
def test_another_users_object_answers_as_a_missing_one_and_nothing_changes(world, pattern):
    route = ROUTES[pattern]
    kwargs = OBJECT_ROUTES[pattern](world)
    before = database_snapshot()
    _intrude(world, route, kwargs)
    _visit_anonymously(route, route.path(**kwargs))
    assert snapshot_changes(before, database_snapshot()) == [], pattern


def _intrude(world: World, route: Route, kwargs: dict[str, Any]) -> None:
    api, pages = intruder_clients(world)
    client = api if route.is_api else pages
    for method in API_METHODS if route.is_api else PAGE_METHODS:
        foreign = _send(client, route, method, route.path(**kwargs))
        missing = _send(client, route, method, route.path(**_with_missing_ids(kwargs)))
        said = f"{method.upper()} {route.path(**kwargs)}"
        assert foreign.status_code in (404, 405), (said, foreign.status_code, foreign.content[:300])
        assert foreign.status_code == missing.status_code, said
        if route.is_api and foreign.status_code == 404:
            assert foreign.json()["error"]["code"] == "not_found", said
        body = foreign.getvalue()
        leaked = [w for w in _victims_words(world) if w in body]
        assert not leaked, (said, leaked)


def _visit_anonymously(route: Route, path: str) -> None:
    """Signed out: the API asks for credentials (401), a page sends to the sign-in page."""
    for method in API_METHODS if route.is_api else PAGE_METHODS:
        if route.is_api:
            response = getattr(APIClient(), method)(path, HOSTILE_BODY, format="json")
            assert response.status_code in (401, 405), (method, path, response.status_code)
        else:
            response = getattr(Client(), method)(path, HOSTILE_FORM if method == "post" else None)
            assert response.status_code in (302, 405), (method, path, response.status_code)
            if response.status_code == 302:
                assert response["Location"].startswith("/accounts/login/"), (method, path)


# Object ids that arrive in a query string or a body rather than the path.
QUERY_REFERENCES: dict[str, Callable[[World], int]] = {
    "/backtests/new/?strategy={}": lambda w: w.strategy.pk,
    "/research/sweeps/new/?strategy={}": lambda w: w.strategy.pk,
    "/research/sweeps/new/?backtest={}": lambda w: w.finished.pk,
    "/research/walk-forward/new/?strategy={}": lambda w: w.strategy.pk,
    "/research/walk-forward/new/?backtest={}": lambda w: w.finished.pk,
    "/research/walk-forward/new/?optimization={}": lambda w: w.optimization.pk,
}
BODY_REFERENCES = ["/api/v1/backtests/", "/api/v1/optimizations/", "/api/v1/walkforwards/"]


@pytest.mark.parametrize("template", sorted(QUERY_REFERENCES))
def test_a_form_prefilled_from_another_users_object_is_a_404(world, template):
    _, pages = intruder_clients(world)
    path = template.format(QUERY_REFERENCES[template](world))
    before = database_snapshot()
    for method in PAGE_METHODS:
        response = getattr(pages, method)(path, HOSTILE_FORM if method == "post" else None)
        assert response.status_code == 404, (method, path, response.status_code)
    assert snapshot_changes(before, database_snapshot()) == []


@pytest.mark.parametrize("path", ["/backtests/compare/", "/backtests/compare.json"])
def test_comparing_with_another_users_backtest_is_a_404(world, path):
    _, pages = intruder_clients(world)
    ids = f"?ids={world.intruder_backtest.pk}&ids={world.finished.pk}"
    response = pages.get(path + ids)
    assert response.status_code == 404
    assert world.strategy.name.encode() not in response.content


@pytest.mark.parametrize("path", BODY_REFERENCES)
def test_running_another_users_strategy_through_the_api_is_a_404_and_runs_nothing(world, path):
    api, _ = intruder_clients(world)
    body = {
        "strategy": world.strategy.pk,
        "instruments": ["AAA"],
        "timeframe": "1d",
        "start": "2015-01-01T00:00:00Z",
        "end": "2015-04-30T00:00:00Z",
        "space": {"kind": "grid", "parameters": {"fast": {"values": [5, 10]}}},
        "objective": "sharpe",
        "mode": "rolling",
        "in_sample_bars": 40,
        "out_of_sample_bars": 20,
    }
    before = database_snapshot()
    response = api.post(path, body, format="json")
    assert response.status_code == 404, response.content
    assert response.json()["error"]["code"] == "not_found"
    assert snapshot_changes(before, database_snapshot()) == []


LIST_PATHS = [
    "/api/v1/strategies/",
    "/api/v1/backtests/",
    "/api/v1/backtests/?strategy={strategy}",
    "/api/v1/optimizations/",
    "/api/v1/walkforwards/",
    "/api/v1/webhooks/",
    "/",
    "/strategies/",
    "/backtests/",
    "/backtests/new/",
    "/backtests/compare/",
    "/research/sweeps/",
    "/research/sweeps/new/",
    "/research/walk-forward/",
    "/research/walk-forward/new/",
]


@pytest.mark.parametrize("template", LIST_PATHS)
def test_lists_show_nothing_of_another_user(world, template):
    api, pages = intruder_clients(world)
    path = template.format(strategy=world.strategy.pk)
    response = (api if path.startswith("/api/") else pages).get(path)
    assert response.status_code == 200, (path, response.status_code)
    leaked = [w for w in _victims_words(world) if w in response.content]
    assert not leaked, (path, leaked)
    if path.startswith("/api/v1/backtests/"):
        ids = {row["id"] for row in response.json()["results"]}
        assert ids <= {world.intruder_backtest.pk}, path
