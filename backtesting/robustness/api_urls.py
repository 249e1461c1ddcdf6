"""API routes of robustness runs, mounted under /api/v1/."""

from django.urls import path

from backtesting.robustness import api

urlpatterns = [
    path(
        "backtests/<int:pk>/robustness/",
        api.RobustnessListCreateApi.as_view(),
        name="api-backtest-robustness",
    ),
    path("robustness/<int:pk>/", api.RobustnessDetailApi.as_view(), name="api-robustness-detail"),
    path(
        "robustness/<int:pk>/cancel/",
        api.RobustnessCancelApi.as_view(),
        name="api-robustness-cancel",
    ),
]
