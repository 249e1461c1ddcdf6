"""Compare two to four backtests side by side (filled in by the compare page's work)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
