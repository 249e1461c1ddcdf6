"""HTML pages of walk-forwards, mounted under /research/walk-forward/."""

from backtesting.walkforward.views import app_name, urlpatterns

__all__ = ["app_name", "urlpatterns"]
