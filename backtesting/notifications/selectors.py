"""Reads of webhooks and their deliveries, scoped to the user who may see them."""

from __future__ import annotations

from typing import Any

from accounts.ownership import get_visible_or_404
from backtesting.notifications.models import Webhook, WebhookDelivery


def webhook_get(*, user: Any, pk: Any) -> Webhook:
    return get_visible_or_404(Webhook.objects, user, pk=pk)


def webhook_deliveries(*, webhook: Webhook) -> Any:
    return WebhookDelivery.objects.filter(webhook=webhook).order_by("-created_at", "-id")
