"""Webhooks, their deliveries and the email opt-in: the models of the notification sub-package.

They keep the `backtesting` app label and their tables (backtesting.models imports them, which
is how Django registers them); a delivery names its backtest by string so that this module
never imports the backtest models, which import it.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from accounts.ownership import OwnedQuerySet


def _new_secret() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex


class WebhookQuerySet(OwnedQuerySet["Webhook"]):
    owner_field = "owner"


class Webhook(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks"
    )
    url = models.URLField(max_length=500)
    # Shown once at creation; stored because every delivery is signed with it.
    secret = models.CharField(max_length=64, default=_new_secret)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WebhookQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.url


class NotificationPreference(models.Model):
    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backtest_notifications"
    )
    email_on_finish = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.owner_id} email={self.email_on_finish}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"  # this attempt failed; a retry may follow
    DEAD = "dead", "Dead"  # the last attempt failed


class WebhookDeliveryQuerySet(OwnedQuerySet["WebhookDelivery"]):
    owner_field = "webhook__owner"


class WebhookDelivery(models.Model):
    """One event for one webhook; `attempts_log` lists every try, visible to the owner."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    backtest = models.ForeignKey(
        "backtesting.Backtest",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
    )
    event = models.JSONField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts_log = models.JSONField(default=list)
    request_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WebhookDeliveryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "webhook deliveries"  # the admin would say "Webhook deliverys"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"delivery {self.pk} -> {self.webhook_id} ({self.status})"
