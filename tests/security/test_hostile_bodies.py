"""Hostile values in every field of every write operation: a 4xx envelope, never a 500.

Each operation of tests/security/test_mass_assignment.py's WRITES gets its valid body with
one field at a time replaced by a hostile value (a NUL, a lone UTF-16 surrogate, an SQL
fragment, a number no column holds, a wrong type), and each write operation of the schema
gets a body of nothing but hostile strings. What a client sees: 2xx with the value refused
or stored as text, or a 4xx JSON envelope; never a 500.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.security.routes import openapi_schema, schema_writes
from tests.security.test_mass_assignment import WRITES
from tests.security.world import World, fresh_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_rate_limits")]

HOSTILE_VALUES: list[Any] = [
    "a\x00b",  # PostgreSQL refuses NUL in text and jsonb
    "\ud800",  # a lone surrogate: not encodable as UTF-8
    "' OR '1'='1'; DROP TABLE strategies_strategy; --",
    2**70,  # past every integer column
    10**400,  # past a float's range too
    {"$gt": ""},  # an object where a scalar belongs
]


def _replaced(value: Any, hostile: Any) -> Any:
    """`value` with every string in it (dict keys too) swapped for `hostile`, or `hostile`."""
    if isinstance(value, dict) and value:
        return {str(hostile) if isinstance(hostile, str) else k: _replaced(v, hostile)
                for k, v in value.items()}  # fmt: skip
    if isinstance(value, list) and value:
        return [_replaced(v, hostile) for v in value]
    return hostile


def _send(client: APIClient, method: str, path: str, body: dict[str, Any]) -> Any:
    # json.dumps escapes the surrogate as \ud800: the bytes a hostile client sends.
    return getattr(client, method)(path, json.dumps(body), content_type="application/json")


def _assert_answered(response: Any, said: str) -> None:
    assert response.status_code < 500, (said, response.content[:300])
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"code", "message", "details", "request_id"}


@pytest.mark.parametrize("operation", sorted(WRITES), ids=" ".join)
def test_a_hostile_value_in_any_field_is_never_a_server_error(world: World, operation):
    method, schema_path = operation
    write = WRITES[operation]
    path = write.path(world) if write.path else schema_path
    body = write.body(world)
    client = APIClient()
    client.force_authenticate(fresh_user(world.intruder))
    for field in body:
        for hostile in HOSTILE_VALUES:
            response = _send(client, method, path, {**body, field: _replaced(body[field], hostile)})
            _assert_answered(response, f"{method} {path} {field}={hostile!r}")


@pytest.mark.parametrize("operation", sorted(schema_writes()), ids=" ".join)
def test_a_body_of_hostile_strings_is_never_a_server_error(world: World, operation):
    method, schema_path = operation
    fields = [*_request_fields(operation), "extra"]
    path = schema_path.replace("{id}", str(world.intruder_backtest.pk)).replace(
        "{index}", "0").replace("{symbol}", "AAA")  # fmt: skip
    client = APIClient()
    client.force_authenticate(fresh_user(world.intruder))
    for hostile in HOSTILE_VALUES:
        response = _send(client, method, path, dict.fromkeys(fields, hostile))
        _assert_answered(response, f"{method} {path} {hostile!r}")


def _request_fields(operation: tuple[str, str]) -> list[str]:
    method, path = operation
    body = openapi_schema()["paths"][path][method].get("requestBody")
    if not body:
        return []
    ref = next(iter(body["content"].values()))["schema"].get("$ref", "")
    component = openapi_schema()["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
    return list(component.get("properties", {}))


def test_a_lone_surrogate_is_a_parse_error_and_an_escaped_pair_is_text(world: World):
    client = APIClient()
    client.force_authenticate(fresh_user(world.intruder))
    lone = client.patch(
        "/api/v1/auth/me/", '{"display_name": "x\\udc00"}', content_type="application/json"
    )
    assert lone.status_code == 400
    assert lone.json()["error"]["code"] == "parse_error"
    pair = client.patch(
        "/api/v1/auth/me/", '{"display_name": "\\ud83d\\ude00"}', content_type="application/json"
    )
    assert pair.status_code == 200
    assert pair.json()["display_name"] == "\N{GRINNING FACE}"


OVERSIZED = [
    ("too large", lambda: '{"x": "' + "a" * 2_700_000 + '"}', "", 413, "request_too_large"),
    ("too deep", lambda: "[" * 5_000 + "]" * 5_000, "", 400, "parse_error"),
    ("malformed", lambda: '{"name": "x",', "", 400, "parse_error"),
    ("not UTF-8", lambda: b'{"name": "\xff\xfe"}', "", 400, "parse_error"),
    ("1,001 parameters", lambda: "{}", "?" + "&".join(["a=1"] * 1001), 400, "bad_request"),
]


def _reads_a_body(operation: tuple[str, str]) -> bool:
    method, path = operation
    return "requestBody" in openapi_schema()["paths"][path][method]


@pytest.mark.parametrize("operation", sorted(filter(_reads_a_body, WRITES)), ids=" ".join)
def test_oversized_deep_or_malformed_requests_are_envelopes_signed_in(world: World, operation):
    """The shape limits (docs/operations.md, "Request limits") hold on every operation that
    reads a body, for a signed-in client too, not only on the anonymous sign-in endpoints.
    (An operation that takes no body answers without reading one: nothing to limit.)"""
    method, schema_path = operation
    write = WRITES[operation]
    path = write.path(world) if write.path else schema_path
    client = APIClient()
    client.force_authenticate(fresh_user(world.intruder))
    for said, body, query, status, code in OVERSIZED:
        response = getattr(client, method)(path + query, body(), content_type="application/json")
        assert response.status_code == status, (said, response.content[:200])
        assert response.json()["error"]["code"] == code, said
