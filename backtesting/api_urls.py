"""API routes of the backtesting app, mounted under /api/v1/: backtests, dead letters, and
the notification sub-package's own routes."""

from django.urls import include, path

from backtesting import api, api_operations

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
    path("", include("backtesting.notifications.api_urls")),
]
