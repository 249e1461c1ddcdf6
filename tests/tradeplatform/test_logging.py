"""Log lines are JSON objects carrying the request id (and the user id when known)."""

import io
import json
import logging

import pytest

from tradeplatform.logging import RequestContextFilter, TradePlatformJsonFormatter, log_if_slow

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_log_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TradePlatformJsonFormatter())
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    finally:
        root.removeHandler(handler)


def test_each_request_logs_one_json_line_with_timing_and_request_id(client, json_log_lines):
    response = client.get("/live", HTTP_X_REQUEST_ID="log-test-123456")
    access = [line for line in json_log_lines() if line["logger"] == "tradeplatform.access"]
    assert len(access) == 1
    line = access[0]
    assert line["request_id"] == response["X-Request-ID"] == "log-test-123456"
    assert line["level"] == "INFO"
    assert line["method"] == "GET" and line["path"] == "/live" and line["status"] == 200
    assert line["duration_ms"] >= 0
    assert line["timestamp"].endswith("Z")


def test_the_user_id_is_logged_once_known(client, owner, json_log_lines):
    client.force_login(owner)
    client.get("/")
    access = [line for line in json_log_lines() if line["logger"] == "tradeplatform.access"]
    assert access[-1]["user_id"] == owner.pk


def test_slow_requests_log_at_warning(client, settings, json_log_lines):
    settings.SLOW_REQUEST_MS = -1
    client.get("/live")
    access = [line for line in json_log_lines() if line["logger"] == "tradeplatform.access"]
    assert access[-1]["level"] == "WARNING" and access[-1]["slow"] is True


def test_slow_operations_log_at_warning_with_extra_fields(json_log_lines):
    logging.getLogger("tradeplatform.performance").setLevel(logging.DEBUG)
    with log_if_slow("load bars", threshold_ms=-1, symbol="AAPL"):
        pass
    line = [entry for entry in json_log_lines() if entry["logger"] == "tradeplatform.performance"][
        -1
    ]
    assert (
        line["level"] == "WARNING" and line["operation"] == "load bars" and line["symbol"] == "AAPL"
    )
