"""Responses produced before a view runs (429s) and the JSON parser's bound on nesting.

The same checks under gunicorn, with raw sockets, are in test_hostile_requests.py.
"""

from __future__ import annotations

import json

import pytest

from tradeplatform.parsers import MAX_JSON_DEPTH

pytestmark = pytest.mark.django_db

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def assert_security_headers(response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response[name] == value, name
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_an_api_429_carries_the_security_headers(client, settings):
    settings.RATELIMIT_API_RATE = "1/m"
    client.get("/api/v1/marketdata/instruments/")
    response = client.get("/api/v1/marketdata/instruments/")
    assert response.status_code == 429
    assert_security_headers(response)


def test_a_sign_in_page_429_carries_the_security_headers(client, settings):
    settings.RATELIMIT_AUTH_RATE = "1/m"
    form = {"username": "someone", "password": "not-the-password"}
    client.post("/accounts/login/", form)
    response = client.post("/accounts/login/", form)
    assert response.status_code == 429
    assert_security_headers(response)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_json_nested_to_the_limit_reaches_the_view(client):
    body = json.dumps({"username": json.loads(nested(MAX_JSON_DEPTH - 1)), "password": "x"})
    response = client.post("/api/v1/auth/token/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"  # the serializer saw it


def test_json_nested_one_level_deeper_is_refused_by_the_parser(client):
    body = json.dumps({"username": json.loads(nested(MAX_JSON_DEPTH)), "password": "x"})
    response = client.post("/api/v1/auth/token/", body, content_type="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "parse_error"
    assert f"deeper than {MAX_JSON_DEPTH} levels" in error["message"]


def test_a_scalar_json_body_still_parses(client):
    response = client.post("/api/v1/auth/token/", "5", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] != "parse_error"
