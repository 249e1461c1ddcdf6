"""Backtest job routes, included by backtesting/api_urls.py under /api/v1/."""

from django.urls import path

from backtesting.jobs import api, api_operations

urlpatterns = [
    path("backtests/", api.BacktestListCreateApi.as_view(), name="api-backtests"),
    path("backtests/<int:pk>/", api.BacktestDetailApi.as_view(), name="api-backtest-detail"),
    path("backtests/<int:pk>/equity/", api.BacktestEquityApi.as_view(), name="api-backtest-equity"),
    path("backtests/<int:pk>/trades/", api.BacktestTradesApi.as_view(), name="api-backtest-trades"),
    path("backtests/<int:pk>/cancel/", api.BacktestCancelApi.as_view(), name="api-backtest-cancel"),
    path("backtests/<int:pk>/rerun/", api.BacktestRerunApi.as_view(), name="api-backtest-rerun"),
    path("dead-letters/", api_operations.DeadLetterListApi.as_view(), name="api-dead-letters"),
    path(
        "dead-letters/<int:pk>/requeue/",
        api_operations.DeadLetterRequeueApi.as_view(),
        name="api-dead-letter-requeue",
    ),
    path("webhooks/", api_operations.WebhookCollectionApi.as_view(), name="api-webhooks"),
    path(
        "webhooks/<int:pk>/", api_operations.WebhookDetailApi.as_view(), name="api-webhook-detail"
    ),
    path(
        "webhooks/<int:pk>/deliveries/",
        api_operations.WebhookDeliveryListApi.as_view(),
        name="api-webhook-deliveries",
    ),
    path(
        "notifications/",
        api_operations.NotificationPreferenceApi.as_view(),
        name="api-notification-preferences",
    ),
]
