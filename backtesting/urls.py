"""HTML pages of the backtesting app."""

from django.urls import include, path

app_name = "backtesting"
urlpatterns = [
    path("", include("backtesting.jobs.urls")),
]
