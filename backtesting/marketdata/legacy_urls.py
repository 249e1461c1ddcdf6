"""The URLs market data had before it became its own app; kept for one release (docs/api.md).

Mounted at the site root by tradeplatform.urls, ahead of the admin. The old API paths are
aliases (the same views, so a POSTed upload keeps working, and left out of the schema); the old
pages answer with a permanent redirect to their new address.
"""

from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.urls import path, re_path
from django.views.generic import RedirectView

from backtesting.marketdata import api


def admin_redirect(request: HttpRequest, model: str, rest: str) -> HttpResponsePermanentRedirect:
    """/admin/backtesting/<model>/... -> /admin/marketdata/<model>/..., query string kept."""
    query = request.META.get("QUERY_STRING", "")
    return HttpResponsePermanentRedirect(
        f"/admin/marketdata/{model}/{rest}" + (f"?{query}" if query else "")
    )


urlpatterns = [
    path("api/v1/instruments/", api.InstrumentListApi.as_view(schema=None)),
    path("api/v1/instruments/<str:symbol>/", api.InstrumentDetailApi.as_view(schema=None)),
    path("api/v1/instruments/<str:symbol>/bars/", api.InstrumentBarsApi.as_view(schema=None)),
    path(
        "api/v1/instruments/<str:symbol>/bars/import/",
        api.InstrumentBarsImportApi.as_view(schema=None),
    ),
    path(
        "backtests/marketdata/import/",
        RedirectView.as_view(pattern_name="marketdata:import", permanent=True, query_string=True),
    ),
    re_path(
        r"^admin/backtesting/(?P<model>instrument|bar|seriesversion)/(?P<rest>.*)$",
        admin_redirect,
    ),
]
