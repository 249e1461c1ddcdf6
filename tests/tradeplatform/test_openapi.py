"""The OpenAPI schema generates without warnings and declares pages and errors truly."""

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_the_schema_validates_with_no_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            str(out),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "openapi: 3" in out.read_text()


# --- what the schema declares ------------------------------------------------------------

PAGINATED_LISTS = [
    "/api/v1/backtests/",
    "/api/v1/backtests/{id}/robustness/",
    "/api/v1/backtests/{id}/trades/",
    "/api/v1/dead-letters/",
    "/api/v1/marketdata/instruments/",
    "/api/v1/optimizations/",
    "/api/v1/optimizations/{id}/results/",
    "/api/v1/strategies/",
    "/api/v1/strategies/{id}/versions/",
    "/api/v1/walkforwards/",
    "/api/v1/webhooks/{id}/deliveries/",
]
ERROR_REF = "#/components/schemas/Error"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, ops in schema["paths"].items() for m, op in ops.items()]


def _resolve(schema: dict[str, Any], ref_or_schema: dict[str, Any]) -> dict[str, Any]:
    ref = ref_or_schema.get("$ref", "")
    return schema["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else ref_or_schema


@pytest.mark.parametrize("path", PAGINATED_LISTS)
def test_a_paginated_list_declares_count_next_previous_and_results(schema, path):
    operation = schema["paths"][path]["get"]
    body = operation["responses"]["200"]["content"]["application/json"]["schema"]

    page = _resolve(schema, body)

    assert page["type"] == "object"
    assert set(page["properties"]) == {"count", "next", "previous", "results"}
    assert page["properties"]["results"]["type"] == "array"
    assert {"name": "page", "in": "query"}.items() <= next(
        p for p in operation["parameters"] if p["name"] == "page"
    ).items()


def _json_200(schema: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    content = operation["responses"]["200"].get("content", {})
    return _resolve(schema, content.get("application/json", {}).get("schema", {}))


def test_only_the_paginated_lists_are_declared_as_pages(schema):
    pages = {
        path
        for method, path, operation in _operations(schema)
        if method == "get"
        and {"count", "results"} <= _json_200(schema, operation).get("properties", {}).keys()
    }
    assert pages == set(PAGINATED_LISTS)


def test_every_error_response_is_the_json_envelope(schema):
    errors = 0
    for method, path, operation in _operations(schema):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                errors += 1
                assert response["content"] == {
                    "application/json": {"schema": {"$ref": ERROR_REF}}
                }, (method, path, status)
    envelope = schema["components"]["schemas"]["Error"]
    detail = _resolve(schema, envelope["properties"]["error"])
    assert set(detail["required"]) == {"code", "message", "details", "request_id"}
    assert errors > 200


def test_every_operation_declares_the_errors_its_shape_can_produce(schema):
    for method, path, operation in _operations(schema):
        declared = {int(s) for s in operation["responses"] if int(s) >= 400}
        where = (method, path, sorted(declared))
        assert {429, 503} <= declared, where  # every /api/ request is rate-limited
        if {} not in operation.get("security", [{}]):
            assert 401 in declared, where
            challenge = operation["responses"]["401"]["headers"]["WWW-Authenticate"]
            assert challenge["required"] is True
        if "requestBody" in operation:
            assert {400, 413, 415} <= declared, where
        if "{" in path:
            assert 404 in declared, where


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("post", "/api/v1/backtests/{id}/cancel/", 409),
        ("post", "/api/v1/dead-letters/{id}/requeue/", 409),
        ("post", "/api/v1/auth/2fa/totp/", 409),
        ("post", "/api/v1/auth/2fa/totp/disable/", 409),
        ("post", "/api/v1/auth/token/", 401),
        ("post", "/api/v1/auth/token/refresh/", 401),
        ("post", "/api/v1/auth/register/", 403),
        ("post", "/api/v1/backtests/{id}/rerun/", 400),
        ("get", "/api/v1/strategies/", 404),  # a page out of range
        ("post", "/api/v1/strategies/", 403),  # a viewer, or the strategy quota
    ],
)
def test_errors_raised_by_services_are_declared(schema, method, path, status):
    response = schema["paths"][path][method]["responses"][str(status)]
    assert response["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}
