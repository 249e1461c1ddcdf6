"""Backtest pages: my backtests and one backtest with its progress, metrics and trades."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from backtesting import selectors
from tradeplatform.errors import NotFoundError

# The headline statistics shown on the page, in this order.
HEADLINE_METRICS = (
    "total_return", "cagr", "sharpe_ratio", "sortino_ratio", "max_drawdown", "n_trades",
    "win_rate", "profit_factor",
)  # fmt: skip


@login_required
def backtest_list_view(request: HttpRequest) -> HttpResponse:
    qs = selectors.backtest_list(user=request.user, status=request.GET.get("status") or None)
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    return render(request, "backtests/list.html", {"page": page})


@login_required
def backtest_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        backtest = selectors.backtest_get(user=request.user, pk=pk, with_result=True)
    except NotFoundError as exc:
        raise Http404 from exc
    metrics = [(name, (backtest.metrics or {}).get(name)) for name in HEADLINE_METRICS]
    trades = selectors.backtest_trades(backtest=backtest)[:50]
    return render(
        request,
        "backtests/detail.html",
        {"backtest": backtest, "metrics": metrics, "trades": trades},
    )


urlpatterns = [
    path("", backtest_list_view, name="backtest-list"),
    path("<int:pk>/", backtest_detail_view, name="backtest-detail"),
]
