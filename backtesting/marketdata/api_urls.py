"""Market-data API routes (mounted under /api/v1/ by backtesting.api_urls)."""

from django.urls import path

from backtesting.marketdata import api

urlpatterns = [
    path("instruments/", api.InstrumentListApi.as_view(), name="instrument-list"),
    path("instruments/<str:symbol>/", api.InstrumentDetailApi.as_view(), name="instrument-detail"),
    path("instruments/<str:symbol>/bars/", api.InstrumentBarsApi.as_view(), name="instrument-bars"),
    path(
        "instruments/<str:symbol>/bars/import/",
        api.InstrumentBarsImportApi.as_view(),
        name="instrument-bars-import",
    ),
]
