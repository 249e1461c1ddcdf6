"""The site's front page: the marketing page for visitors, the dashboard once signed in.

Mounted at "/" by tradeplatform.urls (include by name, so the platform imports no app).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET

from accounts.access import has_role
from accounts.models import Role
from backtesting.dashboard import dashboard_for


@require_GET
def home_view(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "home.html", {"registration_open": settings.REGISTRATION_OPEN})
    context = {
        "dashboard": dashboard_for(request.user),
        # Viewers read; the New buttons would only lead them to a refusal.
        "can_write": has_role(request.user, Role.TRADER),
    }
    return render(request, "dashboard.html", context)


urlpatterns = [path("", home_view, name="home")]
