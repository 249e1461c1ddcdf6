"""API routes of parameter sweeps, mounted under /api/v1/."""

from django.urls import path

from backtesting.optimization import api

urlpatterns = [
    path("optimizations/", api.OptimizationListCreateApi.as_view(), name="api-optimizations"),
    path(
        "optimizations/<int:pk>/",
        api.OptimizationDetailApi.as_view(),
        name="api-optimization-detail",
    ),
    path(
        "optimizations/<int:pk>/results/",
        api.OptimizationResultsApi.as_view(),
        name="api-optimization-results",
    ),
    path(
        "optimizations/<int:pk>/cancel/",
        api.OptimizationCancelApi.as_view(),
        name="api-optimization-cancel",
    ),
    path(
        "optimizations/<int:pk>/results/<int:index>/backtest/",
        api.OptimizationResultBacktestApi.as_view(),
        name="api-optimization-result-backtest",
    ),
]
