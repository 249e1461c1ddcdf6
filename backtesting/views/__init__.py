"""The backtesting app's HTML pages, one module per page family; each exports `urlpatterns`."""
