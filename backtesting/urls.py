"""HTML pages of the backtesting app, mounted under /backtests/."""

from django.urls import path

from backtesting import views

app_name = "backtesting"
urlpatterns = [
    path("", views.backtest_list_view, name="backtest-list"),
    path("new/", views.backtest_create_view, name="backtest-create"),
    path("<int:pk>/", views.backtest_detail_view, name="backtest-detail"),
    path("<int:pk>/charts.json", views.backtest_charts_view, name="backtest-charts"),
]
