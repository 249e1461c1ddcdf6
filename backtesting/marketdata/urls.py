"""Market-data pages, mounted at /marketdata/ by tradeplatform.urls."""

from django.urls import path

from backtesting.marketdata import views

app_name = "marketdata"
urlpatterns = [
    path("", views.instrument_list_view, name="instrument-list"),
    # Before the symbol pattern: "import" is the operators' upload page, not an instrument.
    path("import/", views.bars_import_view, name="import"),
    path("<str:symbol>/", views.instrument_detail_view, name="instrument-detail"),
    path("<str:symbol>/bars.json", views.instrument_bars_json_view, name="instrument-bars"),
]
