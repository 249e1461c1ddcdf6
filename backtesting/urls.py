"""HTML pages of the backtesting app."""

from django.urls import path

app_name = "backtesting"
urlpatterns: list = []
