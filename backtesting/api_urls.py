"""API routes of the backtesting app, mounted under /api/v1/."""

from django.urls import include, path

urlpatterns = [
    path("", include("backtesting.marketdata.api_urls")),
    path("", include("backtesting.jobs.api_urls")),
]
