"""Telling users a backtest finished: signed webhooks (SSRF-guarded) and opt-in email."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Exists, OuterRef
from django.utils import timezone

from backtesting.jobs import metrics
from backtesting.jobs.lifecycle import task_enqueue_on_commit
from backtesting.models import Backtest
from backtesting.notifications.models import (
    DeliveryStatus,
    NotificationPreference,
    Webhook,
    WebhookDelivery,
)
from tradeplatform.errors import DomainValidationError

logger = logging.getLogger(__name__)

# The result's columns an event never quotes (megabytes for a long run).
_RESULT_BULK_FIELDS = (
    "timestamps", "equity", "drawdown", "indicators", "indicator_values", "sandbox_log",
)  # fmt: skip


class WebhookUrlError(DomainValidationError):
    code = "invalid_webhook_url"


def webhook_url_check(url: str) -> list[str]:
    """The vetted IP addresses of `url`'s host; raises WebhookUrlError when any is off-limits.

    Every address the name resolves to is checked: a name with one public and one private
    address would otherwise let a resolver choose to reach inside our network.
    """
    parts = urlsplit(url)
    allowed_schemes = ("https",) if settings.WEBHOOK_REQUIRE_HTTPS else ("https", "http")
    if parts.scheme not in allowed_schemes or not parts.hostname:
        raise WebhookUrlError(f"The URL must use {' or '.join(allowed_schemes)} and name a host.")
    try:
        port = parts.port  # ValueError when out of range, which URLField lets through
    except ValueError as exc:
        raise WebhookUrlError("The port must be between 1 and 65535.") from exc
    try:
        infos = socket.getaddrinfo(parts.hostname, port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookUrlError("The host name does not resolve.") from exc
    addresses = sorted({str(info[4][0]) for info in infos})
    if not settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        refused = [a for a in addresses if not _is_public(a)]
        if refused:
            raise WebhookUrlError(
                "Webhooks cannot target private, loopback or reserved addresses.",
                details={"addresses": refused},
            )
    return addresses


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _is_public(address: str) -> bool:
    """Global, and so is any IPv4 address embedded in it (NAT64, 6to4, IPv4-compatible):
    a gateway on the way would translate those to the private IPv4 address they carry."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if not ip.is_global:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        packed = ip.packed
        embedded = ip.ipv4_mapped or ip.sixtofour
        if ip in _NAT64 or packed[:12] == bytes(12):
            embedded = ipaddress.IPv4Address(packed[12:])
        if embedded is not None and not embedded.is_global:
            return False
    return True


def webhook_create(*, owner: Any, url: str) -> Webhook:
    """Register a webhook; the returned instance's secret is shown to the user once."""
    webhook_url_check(url)
    return Webhook.objects.create(owner=owner, url=url)


def notification_preference_set(*, owner: Any, email_on_finish: bool) -> NotificationPreference:
    pref, _ = NotificationPreference.objects.update_or_create(
        owner=owner, defaults={"email_on_finish": email_on_finish}
    )
    return pref


def backtest_event(backtest: Backtest) -> dict[str, Any]:
    return {
        "type": f"backtest.{backtest.status}",
        "backtest": {
            "id": backtest.pk,
            "status": backtest.status,
            "error_code": backtest.error_code or None,
            "finished_at": backtest.finished_at.isoformat() if backtest.finished_at else None,
            "metrics": {
                k: (backtest.metrics or {}).get(k)
                for k in ("total_return", "sharpe_ratio", "max_drawdown")
            },
        },
    }


def notifications_enqueue(*, backtest_id: int) -> None:
    """Create a delivery per active webhook of the owner and queue them (and the email)."""
    # Every finished job comes here, and most owners have neither webhooks nor email on: one
    # read answers both, with the metrics the event quotes but not the result's curves.
    owner = OuterRef("owner_id")
    backtest = (
        Backtest.objects.select_related("result")
        .defer(*(f"result__{name}" for name in _RESULT_BULK_FIELDS))
        .annotate(
            has_webhooks=Exists(Webhook.objects.filter(owner_id=owner, is_active=True)),
            wants_email=Exists(
                NotificationPreference.objects.filter(owner_id=owner, email_on_finish=True)
            ),
        )
        .filter(pk=backtest_id)
        .first()
    )
    if backtest is None:
        return
    headers = {"request_id": backtest.request_id} if backtest.request_id else {}
    if backtest.has_webhooks:  # type: ignore[attr-defined]  # annotated above
        event = backtest_event(backtest)
        deliveries = [
            WebhookDelivery.objects.create(
                webhook=hook, backtest=backtest, event=event, request_id=backtest.request_id
            )
            for hook in Webhook.objects.filter(owner_id=backtest.owner_id, is_active=True)
        ]
        # Published by task name, so this module imports no tasks (which import it).
        for delivery in deliveries:
            task_enqueue_on_commit("backtesting.webhook_deliver", (delivery.pk,), headers=headers)
    if backtest.wants_email:  # type: ignore[attr-defined]  # annotated above
        task_enqueue_on_commit("backtesting.backtest_email", (backtest_id,), headers=headers)


def backtest_email_send(*, backtest_id: int) -> None:
    backtest = Backtest.objects.select_related("owner").filter(pk=backtest_id).first()
    if backtest is None or not backtest.owner.email:
        return
    send_mail(
        subject=f"Backtest {backtest.pk} {backtest.status}",
        message=json.dumps(backtest_event(backtest), indent=2),
        from_email=None,
        recipient_list=[backtest.owner.email],
    )


def webhook_deliver(*, delivery_id: int, attempt: int) -> bool:
    """POST the event once; log the attempt on the delivery. True when the receiver took it."""
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    body = json.dumps(
        {**delivery.event, "delivery_id": delivery.pk}, separators=(",", ":")
    ).encode()
    started = time.perf_counter()
    try:
        status = _post(delivery.webhook.url, body, _signature_headers(delivery, body))
        error = "" if 200 <= status < 300 else f"HTTP {status}"
    except (OSError, http.client.HTTPException, WebhookUrlError) as exc:
        status, error = 0, f"{type(exc).__name__}: {exc}"[:500]
    entry = {
        "attempt": attempt,
        "at": timezone.now().isoformat(),
        "status_code": status or None,
        "error": error,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
    }
    delivery.attempts_log = [*delivery.attempts_log, entry]
    delivery.status = DeliveryStatus.SUCCEEDED if not error else DeliveryStatus.FAILED
    delivery.save(update_fields=["attempts_log", "status", "updated_at"])
    metrics.WEBHOOK_DELIVERIES.labels("ok" if not error else "error").inc()
    return not error


def delivery_mark_dead(*, delivery_id: int) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id).update(status=DeliveryStatus.DEAD)


def delivery_requeue(*, delivery_id: int) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id).update(status=DeliveryStatus.PENDING)
    task_enqueue_on_commit("backtesting.webhook_deliver", (delivery_id,))


def _signature_headers(delivery: WebhookDelivery, body: bytes) -> dict[str, str]:
    # The timestamp is signed too, so a captured request cannot be replayed much later.
    stamp = str(int(time.time()))
    mac = hmac.new(delivery.webhook.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "User-Agent": "tradeplatform-webhooks/1",
        "X-Tradeplatform-Event": delivery.event.get("type", ""),
        "X-Tradeplatform-Delivery": str(delivery.pk),
        "X-Tradeplatform-Timestamp": stamp,
        "X-Tradeplatform-Signature": f"sha256={mac.hexdigest()}",
    }


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    # Resolve and vet at send time, then connect to the vetted address itself: re-resolving
    # inside the HTTP client would let DNS rebinding swap in an internal address.
    address = webhook_url_check(url)[0]
    parts = urlsplit(url)
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = _PinnedHTTPSConnection(parts.hostname or "", address, parts.port or 443, timeout)
    else:
        conn = http.client.HTTPConnection(address, parts.port or 80, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("POST", path, body=body, headers={**headers, "Host": parts.netloc})
        return conn.getresponse().status
    finally:
        conn.close()


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed IP, with SNI and certificate checks against the original host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]
