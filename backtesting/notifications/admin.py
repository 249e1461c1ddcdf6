"""Admin for webhooks and their deliveries (the secret is never shown)."""

from django.contrib import admin

from backtesting.notifications.models import Webhook, WebhookDelivery


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "url", "is_active", "created_at")
    exclude = ("secret",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "webhook", "backtest", "status", "created_at")
    list_filter = ("status",)
    readonly_fields = ("event", "attempts_log")
