"""HTML pages of robustness runs, mounted under /research/robustness/."""

from backtesting.robustness.views import app_name, urlpatterns

__all__ = ["app_name", "urlpatterns"]
