"""HTML pages of the strategies app."""

from django.urls import path

app_name = "strategies"
urlpatterns: list = []
