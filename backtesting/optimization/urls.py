"""HTML pages of parameter sweeps, mounted under /research/sweeps/."""

from backtesting.optimization import views

app_name = "optimization"
urlpatterns = views.urlpatterns
