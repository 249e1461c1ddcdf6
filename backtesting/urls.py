"""HTML pages of the backtesting app, mounted under /backtests/."""

from backtesting.views import charts, compare, detail, run_form

app_name = "backtesting"
urlpatterns = [
    *detail.urlpatterns,
    *run_form.urlpatterns,
    *charts.urlpatterns,
    *compare.urlpatterns,
]
