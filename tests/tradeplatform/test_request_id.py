"""Request ids: made when absent, echoed when well formed, replaced when not, carried to tasks."""

import re

import pytest

from tradeplatform.celery import app as celery_app
from tradeplatform.celery import attach_request_id
from tradeplatform.request_context import request_id_var

pytestmark = pytest.mark.django_db


def test_a_request_without_an_id_gets_a_fresh_one(client):
    first = client.get("/live")["X-Request-ID"]
    second = client.get("/live")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


def test_a_well_formed_client_id_is_echoed(client):
    response = client.get("/live", HTTP_X_REQUEST_ID="3f2b8c1e-7d4a-4b7e-9c5f-1a2b3c4d5e6f")
    assert response["X-Request-ID"] == "3f2b8c1e-7d4a-4b7e-9c5f-1a2b3c4d5e6f"


@pytest.mark.parametrize(
    "malformed",
    [
        "short",
        "has space in it",
        "x" * 200,
        "evil\r\nInjected: yes",
        "<script>alert(1)</script>",
        "ünïcödé-1234",
    ],
)
def test_a_malformed_client_id_is_replaced_not_echoed(client, malformed):
    response = client.get("/live", HTTP_X_REQUEST_ID=malformed)
    assert response["X-Request-ID"] != malformed
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_publishing_a_task_carries_the_current_request_id_in_its_headers() -> None:
    token = request_id_var.set("click-1234567890")
    try:
        headers: dict = {}
        attach_request_id(headers=headers)
    finally:
        request_id_var.reset(token)
    assert headers["request_id"] == "click-1234567890"


@celery_app.task(name="tests.capture_request_id")
def capture_request_id() -> str | None:
    return request_id_var.get()


def test_a_task_runs_under_the_request_id_it_was_sent_with():
    result = capture_request_id.apply(headers={"request_id": "click-abcdef123"})
    assert result.get() == "click-abcdef123"
    assert request_id_var.get() is None  # cleared after the task


def test_a_task_without_a_request_id_gets_its_own():
    result = capture_request_id.apply()
    assert re.fullmatch(r"[0-9a-f]{32}", result.get())
