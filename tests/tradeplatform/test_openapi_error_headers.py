"""Every 401 says how to authenticate and every 405 says what is allowed, whatever was asked.

RFC 9110: a 401 MUST carry WWW-Authenticate and a 405 MUST carry Allow. A client that
asked for CSV (Accept: text/csv or ?format=csv) still gets both, and the JSON envelope.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.urls import path as url_path
from django.views.decorators.http import require_POST
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

CSV_TRADES = "/api/v1/backtests/{id}/trades/"
ASKS_FOR_CSV = [
    pytest.param({"HTTP_ACCEPT": "text/csv"}, "", id="accept-csv"),
    pytest.param({}, "?format=csv", id="format-csv"),
    pytest.param({"HTTP_ACCEPT": "application/json"}, "", id="json"),
]
ACCEPTS = ["application/json", "text/csv"]
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    # The walks below send a few hundred requests from one address: not what is tested here.
    settings.RATELIMIT_ENABLE = False


def _schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations() -> dict[str, set[str]]:
    return {path: set(ops) for path, ops in _schema()["paths"].items()}


def _csv_paths() -> set[str]:
    return {
        path
        for path, ops in _schema()["paths"].items()
        for op in ops.values()
        if "text/csv" in op["responses"].get("200", {}).get("content", {})
    }


def _refused_as_not_acceptable(response: Any, path: str, accept: str) -> bool:
    """DRF negotiates before it authenticates: CSV from a JSON-only endpoint is a 406 first."""
    if response.status_code != 406:
        return False
    assert accept == "text/csv" and path not in _csv_paths(), (path, accept)
    return True


def _concrete(path: str) -> str:
    """The path with a value for every parameter ({symbol} a symbol, any other a number)."""
    return re.sub(r"\{(\w+)\}", lambda m: "AAPL" if m.group(1) == "symbol" else "1", path)


def _assert_envelope(response: Any, code: str) -> None:
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize(("headers", "query"), ASKS_FOR_CSV)
def test_a_401_on_the_csv_trades_endpoint_says_how_to_authenticate(headers, query):
    response = APIClient().get(CSV_TRADES.format(id=1) + query, **headers)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    _assert_envelope(response, "not_authenticated")
    assert response.json()["error"]["message"] == "Authentication credentials were not provided."


@pytest.mark.parametrize(("headers", "query"), ASKS_FOR_CSV)
def test_a_405_on_the_csv_trades_endpoint_lists_the_allowed_methods(owner_client, headers, query):
    # The method is refused before the backtest is looked up: no row is needed.
    response = owner_client.post(CSV_TRADES.format(id=1) + query, **headers)

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, OPTIONS"
    _assert_envelope(response, "method_not_allowed")


def test_a_401_and_a_405_on_a_json_endpoint_carry_their_headers(owner_client):
    anonymous = APIClient().get("/api/v1/strategies/")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == 'Bearer realm="api"'

    not_allowed = owner_client.put("/api/v1/strategies/", {}, format="json")
    assert not_allowed.status_code == 405
    assert not_allowed["Allow"] == "GET, POST, HEAD, OPTIONS"


def test_a_wrong_password_is_a_401_that_says_how_to_authenticate(owner):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "owner", "password": "wrong"}, format="json"
    )

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    _assert_envelope(response, "authentication_failed")


@pytest.mark.parametrize("accept", ACCEPTS)
def test_every_operation_answers_anonymous_callers_with_www_authenticate(accept):
    client = APIClient()
    checked = 0
    for path, methods in _operations().items():
        for method in methods:
            response = getattr(client, method)(_concrete(path), HTTP_ACCEPT=accept)
            if _refused_as_not_acceptable(response, path, accept):
                continue
            if response.status_code == 401:
                checked += 1
                assert response.get("WWW-Authenticate"), (method, path)
    assert checked >= (30 if accept == "application/json" else len(_csv_paths()))


@pytest.mark.parametrize("accept", ACCEPTS)
def test_every_path_answers_an_unsupported_method_with_allow(operator_client, accept):
    # An operator passes every permission check, so the method is what gets refused.
    checked = 0
    for path, methods in _operations().items():
        for method in set(METHODS) - methods:
            response = getattr(operator_client, method)(_concrete(path), HTTP_ACCEPT=accept)
            if _refused_as_not_acceptable(response, path, accept):
                continue
            assert response.status_code == 405, (method, path, response.status_code)
            allowed = {m.strip().lower() for m in response["Allow"].split(",")}
            assert methods <= allowed, (method, path, response["Allow"])
            checked += 1
    assert checked >= (100 if accept == "application/json" else 2 * len(_csv_paths()))


@require_POST
def _plain_django_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [url_path("api/v1/plain/", _plain_django_view)]


@pytest.mark.urls(__name__)
def test_a_405_from_outside_drf_keeps_allow_when_it_becomes_the_envelope(client):
    response = client.get("/api/v1/plain/")

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    _assert_envelope(response, "method_not_allowed")


@pytest.mark.parametrize("url", ["/live", "/ready", "/health", "/api/schema/", "/api/docs/"])
def test_a_405_outside_the_api_operations_lists_the_allowed_methods(client, url):
    response = client.put(url)

    assert response.status_code == 405
    assert "GET" in response["Allow"]
