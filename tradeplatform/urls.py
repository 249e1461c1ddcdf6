from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from tradeplatform import health, metrics

handler400 = "tradeplatform.views.bad_request"
handler403 = "tradeplatform.views.permission_denied"
handler404 = "tradeplatform.views.page_not_found"
handler500 = "tradeplatform.views.server_error"

urlpatterns = [
    # The front page: marketing for visitors, the dashboard once signed in.
    path("", include("backtesting.views.dashboard")),
    path("live", health.live, name="live"),
    path("ready", health.ready, name="ready"),
    path("health", health.health, name="health"),
    path("metrics", metrics.metrics_view, name="metrics"),
    # Before the admin: the market-data URLs of the last release redirect or alias.
    path("", include("backtesting.marketdata.legacy_urls")),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("api/v1/", include("accounts.api_urls")),
    path("api/v1/", include("strategies.api_urls")),
    path("api/v1/", include("backtesting.api_urls")),
    path("api/v1/", include("backtesting.robustness.api_urls")),
    path("api/v1/", include("backtesting.optimization.api_urls")),
    path("api/v1/", include("backtesting.walkforward.api_urls")),
    path("api/v1/marketdata/", include("backtesting.marketdata.api_urls")),
    path("strategies/", include("strategies.urls")),
    path("backtests/", include("backtesting.urls")),
    path("marketdata/", include("backtesting.marketdata.urls")),
    path("research/robustness/", include("backtesting.robustness.urls")),
    path("research/sweeps/", include("backtesting.optimization.urls")),
    path("research/walk-forward/", include("backtesting.walkforward.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's initialiser as a separate script, so no inline JS.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
]
