"""The chart series of one backtest, as JSON for the detail page's charts."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.http import require_http_methods

from backtesting import selectors
from backtesting.chart_series import backtest_chart_data
from tradeplatform.errors import NotFoundError


@login_required
@require_http_methods(["GET"])
def backtest_charts_view(request: HttpRequest, pk: int) -> JsonResponse:
    """The detail page's chart series (down-sampled; layout in docs/backtests.md)."""
    try:
        backtest = selectors.backtest_get(user=request.user, pk=pk, with_result=True)
    except NotFoundError as exc:
        raise Http404 from exc
    return JsonResponse(backtest_chart_data(backtest.result_or_none))


urlpatterns = [
    path("<int:pk>/charts.json", backtest_charts_view, name="backtest-charts"),
]
