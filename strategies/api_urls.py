"""API routes of the strategies app, mounted under /api/v1/."""

from django.urls import path

urlpatterns: list = []
