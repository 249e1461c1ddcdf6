"""API routes of the backtesting app, mounted under /api/v1/."""

from django.urls import include, path

urlpatterns = [
    path("", include("backtesting.jobs.api_urls")),
]
