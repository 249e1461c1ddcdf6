"""SQL injection in every filter, ordering, search and paging parameter: never a 500, never
other rows than a plain value gets.

API parameters come from the OpenAPI schema; page parameters from PAGE_PARAMETERS, and a test
reads the views' source for `request.GET` names so a new page parameter cannot go unlisted.
Each parameter is sent a plain value that matches nothing, then each injection string: the
answer must have the plain value's status and, when it lists rows, the same rows. The victim
is signed in (their rows are what an injection that worked would add).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.security.routes import openapi_schema
from tests.security.world import World, fresh_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_rate_limits")]

PROJECT = Path(__file__).resolve().parents[2]
PLAIN = "zzqx-nothing-matches"
INJECTIONS = [
    "' OR '1'='1",
    "1 OR 1=1",
    "%' OR 1=1 --",
    "1; DROP TABLE accounts_user; --",
    "') UNION SELECT username, password FROM accounts_user --",
    "-id",
    "%",
    "\\",
]

# Page -> the query parameters its view reads (path templates filled from the world).
PAGE_PARAMETERS: dict[str, list[str]] = {
    "/strategies/": ["q", "page"],
    "/strategies/new/": ["template"],
    "/strategies/{strategy}/versions/2/diff/": ["against"],
    "/strategies/{strategy}/diff/": ["to", "from"],
    "/backtests/": ["status", "page"],
    "/backtests/{backtest}/": ["symbol", "side", "sort", "page"],
    "/backtests/{backtest}/prices.json": ["symbol"],
    "/backtests/new/": ["strategy", "q", "page", "instruments"],
    "/backtests/new/?strategy={strategy}": ["version", "instruments"],
    "/backtests/compare/": ["ids"],
    "/backtests/compare.json": ["ids"],
    "/marketdata/": ["q", "page"],
    "/marketdata/import/": ["symbol"],
    "/research/sweeps/": ["page"],
    "/research/sweeps/new/": ["strategy", "backtest"],
    "/research/walk-forward/": ["page"],
    "/research/walk-forward/new/": ["strategy", "backtest", "optimization"],
    "/accounts/2fa/verify/": ["next"],
}
# Read by views outside the pages above, and where they are covered.
OTHER_READERS = {"instrument": "the admin's bar-import form (operators; Django admin)"}
_GET_NAME = re.compile(r"request\.GET(?:\.get|\.getlist|\[)\(?[\"'](\w+)[\"']")


def test_every_query_parameter_a_view_reads_is_listed():
    read = set()
    for app in ("accounts", "strategies", "backtesting", "tradeplatform"):
        for source in (PROJECT / app).rglob("*.py"):
            read |= set(_GET_NAME.findall(source.read_text()))
    listed = {name for names in PAGE_PARAMETERS.values() for name in names}
    assert read - listed - OTHER_READERS.keys() == set()


def _fill(template: str, world: World) -> str:
    return template.format(strategy=world.strategy.pk, backtest=world.finished.pk)


def _with(path: str, name: str, value: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}{urlencode({name: value})}"


def _rows(response: Any) -> Any:
    """What the answer lists: the JSON results (or body), or the object links of a page."""
    if response["Content-Type"].startswith("application/json"):
        body = response.json()
        return body.get("results", body) if isinstance(body, dict) else body
    if response["Content-Type"].startswith("text/csv"):
        return response.content
    return sorted(set(re.findall(rb'href="(/[\w/.-]*/\d+/[^"?#]*)', response.content)))


def _compare(client: Any, path: str, name: str) -> list[tuple[str, Any, Any]]:
    plain = client.get(_with(path, name, PLAIN))
    differences = []
    for injection in INJECTIONS:
        response = client.get(_with(path, name, injection))
        said = f"{path} {name}={injection!r}"
        assert response.status_code < 500, said
        if response.status_code != plain.status_code:
            differences.append((said, plain.status_code, response.status_code))
        elif response.status_code == 200 and _rows(response) != _rows(plain):
            differences.append((said, "rows", "differ"))
    return differences


def _api_parameters() -> list[tuple[str, str]]:
    return sorted(
        (path, parameter["name"])
        for path, operations in openapi_schema()["paths"].items()
        for parameter in operations.get("get", {}).get("parameters", [])
        if parameter["in"] == "query"
    )


def test_api_parameters_take_injection_as_a_plain_value(world: World):
    client = APIClient()
    client.force_authenticate(fresh_user(world.victim))
    ids = {"{id}": world.finished.pk, "{number}": 2, "{symbol}": "AAA"}
    differences = []
    for template, name in _api_parameters():
        path = template
        for placeholder, value in ids.items():
            path = path.replace(placeholder, str(value))
        if template.startswith(("/api/v1/strategies/{id}", "/api/v1/optimizations/{id}")):
            own = world.strategy.pk if "strategies" in template else world.optimization.pk
            path = template.replace("{id}", str(own)).replace("{number}", "2")
        if template.startswith("/api/v1/webhooks/{id}"):
            path = template.replace("{id}", str(world.webhook.pk))
        differences += _compare(client, path, name)
    assert differences == []


def test_page_parameters_take_injection_as_a_plain_value(world: World):
    client = Client()
    client.force_login(fresh_user(world.victim))
    differences = []
    for template, names in PAGE_PARAMETERS.items():
        for name in names:
            differences += _compare(client, _fill(template, world), name)
    assert differences == []
