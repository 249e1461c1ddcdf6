"""Webhooks: SSRF guard, signed deliveries with every attempt logged, dead letter at the end."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from backtesting import tasks
from backtesting.models import DeadLetter, DeliveryStatus, Webhook, WebhookDelivery
from backtesting.notifications import services as notifications
from tests.backtesting.conftest import execute_job


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/hook", "https://10.0.0.5/x", "https://[::1]/x", "https://169.254.169.254/",
     "https://localhost/x", "ftp://example.com/x",
     # IPv6 forms that carry a private IPv4 address: NAT64, 6to4, IPv4-compatible.
     "https://[64:ff9b::a9fe:a9fe]/", "https://[2002:a00:5::1]/x", "https://[::127.0.0.1]/x",
     "https://example.com:99999/x"],
)  # fmt: skip
def test_private_loopback_and_non_http_targets_are_refused(url: str) -> None:
    with pytest.raises(notifications.WebhookUrlError):
        notifications.webhook_url_check(url)


def test_https_is_required_outside_dev_and_test(settings) -> None:
    settings.WEBHOOK_REQUIRE_HTTPS = True
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    with pytest.raises(notifications.WebhookUrlError):
        notifications.webhook_url_check("http://127.0.0.1/hook")
    assert notifications.webhook_url_check("https://127.0.0.1/hook") == ["127.0.0.1"]


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver(settings) -> Iterator[tuple[str, type[_Receiver]]]:
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True  # the operator allows local targets here
    settings.WEBHOOK_REQUIRE_HTTPS = False
    handler = type("Receiver", (_Receiver,), {"received": [], "status": 200})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", handler
    server.shutdown()


def test_a_finished_job_delivers_a_signed_event(
    submit, owner, receiver, django_capture_on_commit_callbacks
) -> None:
    url, handler = receiver
    hook = notifications.webhook_create(owner=owner, url=url)
    with django_capture_on_commit_callbacks(execute=False):
        backtest = execute_job(submit().pk)
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert notifications.webhook_deliver(delivery_id=delivery.pk, attempt=1)
    headers, body = handler.received[0]
    signed = headers["X-Tradeplatform-Timestamp"].encode() + b"." + body
    expected = hmac.new(hook.secret.encode(), signed, hashlib.sha256).hexdigest()
    assert headers["X-Tradeplatform-Signature"] == f"sha256={expected}"
    event = json.loads(body)
    assert event["type"] == "backtest.succeeded" and event["backtest"]["id"] == backtest.pk
    delivery.refresh_from_db()
    assert (
        delivery.status == DeliveryStatus.SUCCEEDED
        and delivery.attempts_log[0]["status_code"] == 200
    )


def test_failed_deliveries_retry_then_land_in_the_dead_letter_record(
    submit, owner, receiver, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    url, handler = receiver
    handler.status = 500
    monkeypatch.setattr(tasks, "backoff_seconds", lambda retries: 0)
    hook = notifications.webhook_create(owner=owner, url=url)
    with django_capture_on_commit_callbacks(execute=False):
        execute_job(submit().pk)
    delivery = WebhookDelivery.objects.get(webhook=hook)
    tasks.webhook_deliver_task.apply(args=(delivery.pk,))
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DEAD
    assert [a["status_code"] for a in delivery.attempts_log] == [500] * int(
        tasks.webhook_deliver_task.max_retries or 0
    ) + [500]
    assert DeadLetter.objects.get().delivery_id == delivery.pk


def test_webhook_api_refuses_loopback_targets_by_default(owner_client) -> None:
    response = owner_client.post("/api/v1/webhooks/", {"url": "https://127.0.0.1/x"}, format="json")
    assert response.status_code == 400  # loopback refused by default
    assert owner_client.get("/api/v1/webhooks/").json() == []


def test_webhook_api_answers_400_for_a_port_out_of_range(owner_client) -> None:
    response = owner_client.post(
        "/api/v1/webhooks/", {"url": "https://example.com:99999/x"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_webhook_url"


def test_email_opt_in_sends_a_mail_when_a_job_finishes(
    submit, owner, owner_client, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    assert (
        owner_client.put(
            "/api/v1/notifications/", {"email_on_finish": True}, format="json"
        ).status_code
        == 200
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        backtest = execute_job(submit().pk)
    assert callbacks  # the email task is queued on commit
    notifications.backtest_email_send(backtest_id=backtest.pk)
    assert mailoutbox[0].to == [owner.email] and "succeeded" in mailoutbox[0].subject
    assert Webhook.objects.count() == 0
