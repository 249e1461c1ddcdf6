"""Market-data API routes, mounted at /api/v1/marketdata/ by tradeplatform.urls."""

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
