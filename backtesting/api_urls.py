"""API routes of the backtesting app, mounted under /api/v1/."""

from django.urls import path

urlpatterns: list = []
