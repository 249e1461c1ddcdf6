"""Webhook and email opt-in routes, included by backtesting/api_urls.py under /api/v1/."""

from django.urls import path

from backtesting.notifications import api

urlpatterns = [
    path("webhooks/", api.WebhookCollectionApi.as_view(), name="api-webhooks"),
    path("webhooks/<int:pk>/", api.WebhookDetailApi.as_view(), name="api-webhook-detail"),
    path(
        "webhooks/<int:pk>/deliveries/",
        api.WebhookDeliveryListApi.as_view(),
        name="api-webhook-deliveries",
    ),
    path(
        "notifications/",
        api.NotificationPreferenceApi.as_view(),
        name="api-notification-preferences",
    ),
]
