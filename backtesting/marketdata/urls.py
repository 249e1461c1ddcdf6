"""Market-data pages (mounted under /backtests/ by backtesting.urls)."""

from django.urls import path

from backtesting.marketdata import views

urlpatterns = [
    path("marketdata/import/", views.bars_import_view, name="marketdata-import"),
]
