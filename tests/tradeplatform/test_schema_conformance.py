"""Real responses of every API operation match the OpenAPI schema, so the schema stays true.

Two tests, both through the real WSGI application (every middleware, real JWTs) and
schemathesis' checks (status declared, content type declared, body valid against the
declared schema for that status, declared headers present, no 5xx):

- the walk: one valid, authorised request per operation in the schema against seeded data
  (a schema operation without a request here fails the test), plus a few error cases;
- the fuzz: schemathesis generates bounded requests for every operation.

Each operation runs in a savepoint that is rolled back, so a DELETE or a password change
leaves the seeded world intact for the next one.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import otp
from accounts.tokens import tokens_issue
from backtesting.models import Backtest, DeadLetter, DeadLetterKind, Webhook, WebhookDelivery
from backtesting.robustness.services import robustness_submit
from backtesting.services import backtest_submit
from strategies.services import strategy_update
from tests.backtesting.conftest import execute_job, make_input, seed_bars
from tests.factories import (
    DEFAULT_PASSWORD,
    OperatorFactory,
    StrategyFactory,
    TraderFactory,
    totp_code,
)
from tests.optimization.conftest import sweep_optimizations
from tests.walkforward.conftest import conformance_walkforwards
from tradeplatform.wsgi import application

pytestmark = pytest.mark.django_db

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
CSV_ROWS = b"date,open,high,low,close,volume\n2024-01-02,10,11,9,10.5,100\n"
# What the fuzz found: a gzip upload cut short was a 500 (EOFError), not a 400.
TRUNCATED_GZIP = gzip.compress(CSV_ROWS * 50)[:40]


@dataclass
class World:
    owner: Any
    operator: Any
    owner_token: str
    operator_token: str
    strategy: Any
    finished: Backtest
    queued: Backtest
    webhook: Webhook
    dead_letter: DeadLetter
    optimizations: tuple[Any, Any] = (None, None)  # (finished, queued)
    robustness_run: Any = None  # queued, on `finished`
    walkforwards: tuple[Any, Any] = (None, None)  # (finished, queued)


@pytest.fixture
def world(settings) -> World:
    settings.RATELIMIT_ENABLE = False  # hundreds of requests from one address by design
    owner: Any = TraderFactory(username="owner", email="owner@example.com")
    operator: Any = OperatorFactory(username="operator")
    seed_bars("AAA", n=120)
    strategy: Any = StrategyFactory(owner=owner)
    strategy_update(strategy=strategy, user=owner, code=strategy.versions.get().code + "\n")
    version = strategy.versions.get(number=2)
    finished = execute_job(backtest_submit(owner=owner, data=make_input(version)).pk)
    assert finished.trades.exists(), finished.error_message  # trade bodies get validated too
    queued = backtest_submit(owner=owner, data=make_input(version))
    webhook = Webhook.objects.create(owner=owner, url="https://93.184.216.34/hook")
    WebhookDelivery.objects.create(webhook=webhook, backtest=finished, event={"type": "x"})
    failed = backtest_submit(owner=owner, data=make_input(version))
    Backtest.objects.filter(pk=failed.pk).update(status="failed")
    dead_letter = DeadLetter.objects.create(
        kind=DeadLetterKind.BACKTEST, task_name="backtest_execute", task_args=[failed.pk],
        backtest=failed, error="worker lost", attempts=3,
    )  # fmt: skip
    return World(
        owner=owner,
        operator=operator,
        owner_token=tokens_issue(owner, otp_verified=False)["access"],
        operator_token=tokens_issue(operator, otp_verified=True)["access"],
        strategy=strategy,
        finished=finished,
        queued=queued,
        webhook=webhook,
        dead_letter=dead_letter,
        optimizations=sweep_optimizations(owner, version),
        robustness_run=robustness_submit(
            owner=owner, backtest=finished, kind="lookahead", parameters={"n_checks": 2}
        ),
        walkforwards=conformance_walkforwards(owner, version),
    )


@pytest.fixture
def api_schema(world) -> Iterator[Any]:
    # The request/response cycle runs inside the test's transaction: Django's own test
    # client stops these signals from closing the connection, and so must we.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    generated = SchemaGenerator().get_schema(request=None, public=True)
    raw = json.loads(OpenApiJsonRenderer().render(generated, renderer_context={}))
    schema = schemathesis.openapi.from_dict(_no_undeclared_fields(raw))
    schema.app = application
    yield schema
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _no_undeclared_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """A response object may not carry fields its schema does not name (a schema that lies
    by omission fails too). Request components (`...Request`) stay as generated."""
    for name, component in raw["components"]["schemas"].items():
        if "properties" in component and not name.endswith("Request"):
            component.setdefault("additionalProperties", False)
    return raw


def _operations(schema: Any) -> Iterator[Any]:
    for result in schema.get_all_operations():
        yield result.ok()


def _is_operator_only(path: str) -> bool:
    return path.startswith(
        ("/api/v1/dead-letters/", "/api/v1/marketdata/instruments/{symbol}/bars/import/")
    )


def _auth(world: World, path: str) -> dict[str, str]:
    token = world.operator_token if _is_operator_only(path) else world.owner_token
    return {"Authorization": f"Bearer {token}"}


def _path_parameters(world: World, path: str) -> dict[str, Any]:
    """The seeded object each templated path is about."""
    if "{symbol}" in path:
        return {"symbol": "AAA"}
    if path.startswith("/api/v1/backtests/{id}/cancel/"):
        return {"id": world.queued.pk}
    if path.startswith("/api/v1/robustness/{id}/"):
        return {"id": world.robustness_run.pk}
    if path.startswith("/api/v1/walkforwards/{id}/"):
        finished, queued = world.walkforwards
        return {"id": queued.pk if path.endswith("/cancel/") else finished.pk}
    if path.startswith("/api/v1/optimizations/{id}/"):
        finished, queued = world.optimizations
        if path.endswith("/cancel/"):
            return {"id": queued.pk}
        return {"id": finished.pk, "index": finished.best_index}
    ids = {
        "/api/v1/backtests/": world.finished.pk,
        "/api/v1/strategies/": world.strategy.pk,
        "/api/v1/webhooks/": world.webhook.pk,
        "/api/v1/dead-letters/": world.dead_letter.pk,
    }
    params: dict[str, Any] = {}
    if "{id}" in path:
        params["id"] = next(pk for prefix, pk in ids.items() if path.startswith(prefix))
    if "{number}" in path:
        params["number"] = 2
    return params


@contextmanager
def _rolled_back() -> Iterator[None]:
    """A savepoint to run one operation in; its writes are undone when it closes."""
    cache.clear()  # lockouts, cancel flags and counters of the previous operation
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


# --- the walk: one valid request per operation -----------------------------------------

Request = dict[str, Any]
Builder = Callable[[World], list[Request]]


def _reset_link(world: World) -> list[Request]:
    uid = urlsafe_base64_encode(force_bytes(world.owner.pk))
    token = default_token_generator.make_token(world.owner)
    body = {"uid": uid, "token": token, "new_password": "an-unusual-new-passphrase-93"}
    return [{"body": body, "status": 204}]


def _totp_confirm(world: World) -> list[Request]:
    device = otp.totp_enrol_start(world.owner).device
    return [{"body": {"otp": totp_code(device)}, "status": 200}]


def _totp_disable(world: World) -> list[Request]:
    device = otp.totp_enrol_start(world.owner).device
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return [{"body": {"otp": totp_code(device)}, "status": 204}]


def _fresh_refresh(world: World) -> str:
    return tokens_issue(world.owner, otp_verified=False)["refresh"]


BACKTEST_BODY = {
    "instruments": ["AAA"],
    "timeframe": "1d",
    "start": "2015-01-01T00:00:00Z",
    "end": "2015-04-30T00:00:00Z",
    "parameters": {"fast": 5, "slow": 20},
}
CSV = {"headers": {"Accept": "text/csv"}, "status": 200}

WALK: dict[tuple[str, str], Builder] = {
    ("POST", "/api/v1/auth/register/"): lambda w: [
        {
            "body": {
                "username": "newcomer",
                "email": "new@example.com",
                "password": "an-unusual-passphrase-91",
            },
            "status": 201,
        },
    ],
    ("POST", "/api/v1/auth/token/"): lambda w: [
        {"body": {"username": "owner", "password": DEFAULT_PASSWORD}, "status": 200},
        {"body": {"username": "owner", "password": "wrong"}, "status": 401},
    ],
    ("POST", "/api/v1/auth/token/refresh/"): lambda w: [
        {"body": {"refresh": _fresh_refresh(w)}, "status": 200},
    ],
    ("POST", "/api/v1/auth/token/verify/"): lambda w: [
        {"body": {"token": w.owner_token}, "status": 200},
        {"body": {"token": "not-a-token"}, "status": 401},
    ],
    ("POST", "/api/v1/auth/logout/"): lambda w: [
        {"body": {"refresh": _fresh_refresh(w)}, "status": 204},
    ],
    ("GET", "/api/v1/auth/me/"): lambda w: [{"status": 200}, {"anonymous": True, "status": 401}],
    ("PATCH", "/api/v1/auth/me/"): lambda w: [{"body": {"display_name": "O"}, "status": 200}],
    ("POST", "/api/v1/auth/password/change/"): lambda w: [
        {
            "body": {
                "old_password": DEFAULT_PASSWORD,
                "new_password": "an-unusual-new-passphrase-92",
            },
            "status": 200,
        },
    ],
    ("POST", "/api/v1/auth/password/reset/"): lambda w: [
        {"body": {"email": "owner@example.com"}, "status": 202},
    ],
    ("POST", "/api/v1/auth/password/reset/confirm/"): _reset_link,
    ("GET", "/api/v1/auth/2fa/totp/"): lambda w: [{"status": 200}],
    ("POST", "/api/v1/auth/2fa/totp/"): lambda w: [{"status": 201}],
    ("POST", "/api/v1/auth/2fa/totp/confirm/"): _totp_confirm,
    ("POST", "/api/v1/auth/2fa/totp/disable/"): _totp_disable,
    ("GET", "/api/v1/backtests/"): lambda w: [
        {"status": 200},
        {"query": {"page": 9}, "status": 404},
    ],
    ("POST", "/api/v1/backtests/"): lambda w: [
        {"body": {**BACKTEST_BODY, "strategy": w.strategy.pk}, "status": 202},
        {"body": {**BACKTEST_BODY, "strategy": w.strategy.pk, "timeframe": "2d"}, "status": 400},
    ],
    ("GET", "/api/v1/backtests/{id}/"): lambda w: [
        {"status": 200},
        {"path": {"id": 999_999}, "status": 404},
    ],
    ("DELETE", "/api/v1/backtests/{id}/"): lambda w: [{"status": 204}],
    ("POST", "/api/v1/backtests/{id}/cancel/"): lambda w: [
        {"status": 202},
        {"path": {"id": w.finished.pk}, "status": 409},
    ],
    ("GET", "/api/v1/backtests/{id}/equity/"): lambda w: [{"status": 200}],
    ("POST", "/api/v1/backtests/{id}/rerun/"): lambda w: [{"status": 202}],
    ("GET", "/api/v1/backtests/{id}/trades/"): lambda w: [{"status": 200}, CSV],
    ("GET", "/api/v1/dead-letters/"): lambda w: [{"status": 200}],
    ("GET", "/api/v1/optimizations/"): lambda w: [{"status": 200}],
    ("POST", "/api/v1/optimizations/"): lambda w: [
        {
            "body": {
                "strategy": w.strategy.pk,
                "instruments": ["AAA"],
                "timeframe": "1d",
                "start": "2015-01-01T00:00:00Z",
                "end": "2015-04-01T00:00:00Z",
                "space": {"parameters": {"fast": {"min": 5, "max": 10, "step": 5}}},
                "objective": "sharpe",
            },
            "status": 202,
        },
        {
            "body": {
                "strategy": w.strategy.pk,
                "instruments": ["AAA"],
                "timeframe": "1d",
                "start": "2015-01-01T00:00:00Z",
                "end": "2015-04-01T00:00:00Z",
                "space": {},
                "objective": "sharpe",
            },
            "status": 400,
        },
    ],
    ("GET", "/api/v1/optimizations/{id}/"): lambda w: [{"status": 200}],
    ("POST", "/api/v1/optimizations/{id}/cancel/"): lambda w: [{"status": 202}],
    ("GET", "/api/v1/optimizations/{id}/results/"): lambda w: [{"status": 200}, CSV],
    ("POST", "/api/v1/optimizations/{id}/results/{index}/backtest/"): lambda w: [{"status": 202}],
    ("GET", "/api/v1/walkforwards/"): lambda w: [{"status": 200}],
    ("POST", "/api/v1/walkforwards/"): lambda w: [
        {
            "body": {
                "strategy": w.strategy.pk,
                "instruments": ["AAA"],
                "timeframe": "1d",
                "start": "2015-01-01T00:00:00Z",
                "end": "2015-04-01T00:00:00Z",
                "space": {"parameters": {"fast": {"min": 5, "max": 10, "step": 5}}},
                "objective": "sharpe",
                "in_sample_bars": 40,
                "out_of_sample_bars": 20,
            },
            "status": 202,
        },
        {
            "body": {
                "strategy": w.strategy.pk,
                "instruments": ["AAA"],
                "timeframe": "1d",
                "start": "2015-01-01T00:00:00Z",
                "end": "2015-04-01T00:00:00Z",
                "space": {"parameters": {"fast": {"min": 5, "max": 10, "step": 5}}},
                "objective": "sharpe",
                "in_sample_bars": 40,
                "out_of_sample_bars": 20,
                "step_bars": 10,
            },
            "status": 400,
        },
    ],
    ("GET", "/api/v1/walkforwards/{id}/"): lambda w: [{"status": 200}],
    ("POST", "/api/v1/walkforwards/{id}/cancel/"): lambda w: [{"status": 202}],
    ("POST", "/api/v1/dead-letters/{id}/requeue/"): lambda w: [{"status": 202}],
    ("GET", "/api/v1/backtests/{id}/robustness/"): lambda w: [{"status": 200}],
    ("POST", "/api/v1/backtests/{id}/robustness/"): lambda w: [
        {"body": {"kind": "monte_carlo", "parameters": {"n_runs": 50, "seed": 1}}, "status": 202},
        {"body": {"kind": "monte_carlo", "parameters": {"n_runs": 0}}, "status": 400},
    ],
    ("GET", "/api/v1/robustness/{id}/"): lambda w: [{"status": 200}],
    ("POST", "/api/v1/robustness/{id}/cancel/"): lambda w: [{"status": 202}],
    ("GET", "/api/v1/marketdata/instruments/"): lambda w: [{"status": 200}],
    ("GET", "/api/v1/marketdata/instruments/{symbol}/"): lambda w: [{"status": 200}],
    ("GET", "/api/v1/marketdata/instruments/{symbol}/bars/"): lambda w: [
        {"query": {"limit": 5}, "status": 200},
        {**CSV, "query": {"limit": 5}},
    ],
    ("POST", "/api/v1/marketdata/instruments/{symbol}/bars/import/"): lambda w: [
        {
            "body": {"file": CSV_ROWS, "timeframe": "1d"},
            "media_type": "multipart/form-data",
            "status": 200,
        },
        {"body": {"file": TRUNCATED_GZIP}, "media_type": "multipart/form-data", "status": 400},
    ],
    ("PUT", "/api/v1/notifications/"): lambda w: [
        {"body": {"email_on_finish": True}, "status": 200}
    ],
    ("GET", "/api/v1/strategies/"): lambda w: [{"status": 200}],
    ("POST", "/api/v1/strategies/"): lambda w: [
        {"body": {"name": "New", "code": w.strategy.versions.get(number=2).code}, "status": 201},
        {"body": {}, "status": 400},
    ],
    ("GET", "/api/v1/strategies/{id}/"): lambda w: [{"status": 200}],
    ("PATCH", "/api/v1/strategies/{id}/"): lambda w: [{"body": {"name": "Renamed"}, "status": 200}],
    ("DELETE", "/api/v1/strategies/{id}/"): lambda w: [{"status": 204}],
    ("POST", "/api/v1/strategies/{id}/clone/"): lambda w: [{"body": {"name": "C"}, "status": 201}],
    ("GET", "/api/v1/strategies/{id}/versions/"): lambda w: [{"status": 200}],
    ("GET", "/api/v1/strategies/{id}/versions/{number}/"): lambda w: [{"status": 200}],
    ("GET", "/api/v1/strategies/{id}/versions/{number}/diff/"): lambda w: [{"status": 200}],
    ("GET", "/api/v1/strategies/templates/"): lambda w: [{"status": 200}],
    ("POST", "/api/v1/strategies/validate/"): lambda w: [
        {"body": {"code": w.strategy.versions.get(number=2).code}, "status": 200},
    ],
    ("GET", "/api/v1/webhooks/"): lambda w: [{"status": 200}],
    ("POST", "/api/v1/webhooks/"): lambda w: [
        {"body": {"url": "https://93.184.216.34/other"}, "status": 201},
    ],
    ("DELETE", "/api/v1/webhooks/{id}/"): lambda w: [{"status": 204}],
    ("GET", "/api/v1/webhooks/{id}/deliveries/"): lambda w: [{"status": 200}],
}


def _walk_case(operation: Any, world: World, request: Request) -> Any:
    path = operation.path
    headers = {} if request.get("anonymous") else _auth(world, path)
    return operation.Case(
        path_parameters={**_path_parameters(world, path), **request.get("path", {})},
        query=request.get("query"),
        headers={**headers, **request.get("headers", {})},
        body=request.get("body", schemathesis.core.NOT_SET),
        media_type=request.get("media_type"),
    )


def test_every_operation_answers_a_valid_request_as_its_schema_says(api_schema, world, subtests):
    operations = list(_operations(api_schema))
    assert {(op.method.upper(), op.path) for op in operations} == set(WALK)
    for operation in operations:
        with subtests.test(msg=operation.label), _rolled_back():
            for request in WALK[(operation.method.upper(), operation.path)](world):
                case = _walk_case(operation, world, request)
                response = case.call_and_validate(checks=CHECKS)
                assert response.status_code == request["status"], (
                    operation.label,
                    request,
                    response.text[:500],
                )


# --- the fuzz: schemathesis generates the requests -----------------------------------------

FUZZ_EXAMPLES = 8  # per operation: about 350 requests, well under a minute


def test_generated_requests_get_answers_that_match_the_schema(api_schema, world, subtests):
    for operation in _operations(api_schema):
        strategy = operation.as_strategy(
            path_parameters=_path_parameters(world, operation.path),
            headers=_auth(world, operation.path),
        )

        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: Any) -> None:
            case.call_and_validate(checks=CHECKS)

        with subtests.test(msg=operation.label), _rolled_back():
            run()
