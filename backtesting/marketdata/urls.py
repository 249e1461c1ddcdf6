"""Market-data pages, mounted at /marketdata/ by tradeplatform.urls."""

from django.urls import path

from backtesting.marketdata import views

app_name = "marketdata"
urlpatterns = [
    path("import/", views.bars_import_view, name="import"),
]
