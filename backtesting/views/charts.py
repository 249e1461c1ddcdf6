"""The chart data of one backtest, as JSON for the detail page's charts, and its full equity
curve as CSV (the charts draw a down-sampled copy)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from io import StringIO

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, JsonResponse, StreamingHttpResponse
from django.urls import path
from django.views.decorators.http import require_http_methods

from backtesting import selectors
from backtesting.chart_data import backtest_chart_data, backtest_price_data, curve_arrays
from backtesting.engine.result import iso_times, json_floats
from backtesting.models import Backtest
from tradeplatform.errors import NotFoundError


def _visible_backtest(request: HttpRequest, pk: int, *, with_result: bool = False) -> Backtest:
    # Without the result by default: a cached chart document needs none of its megabytes.
    try:
        return selectors.backtest_get(user=request.user, pk=pk, with_result=with_result)
    except NotFoundError as exc:
        raise Http404 from exc


@login_required
@require_http_methods(["GET"])
def backtest_charts_view(request: HttpRequest, pk: int) -> JsonResponse:
    """Equity with the benchmark, drawdown, monthly and trade returns (docs/backtests.md)."""
    return JsonResponse(backtest_chart_data(_visible_backtest(request, pk)))


@login_required
@require_http_methods(["GET"])
def backtest_prices_view(request: HttpRequest, pk: int) -> JsonResponse:
    """One traded symbol's candles, volume and trade markers (?symbol=, default the first)."""
    backtest = _visible_backtest(request, pk)
    symbol = request.GET.get("symbol") or (backtest.symbols or [""])[0]
    try:
        return JsonResponse(backtest_price_data(backtest, symbol))
    except NotFoundError as exc:
        raise Http404 from exc


@login_required
@require_http_methods(["GET"])
def backtest_equity_csv_view(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """Every point of the equity curve: timestamp, equity, drawdown (empty where null)."""
    backtest = _visible_backtest(request, pk, with_result=True)
    response = StreamingHttpResponse(_equity_rows(backtest), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="backtest-{backtest.pk}-equity.csv"'
    return response


def _equity_rows(backtest: Backtest) -> Iterator[str]:
    yield "timestamp,equity,drawdown\n"
    curve = curve_arrays(backtest.result_or_none)
    if curve is None:
        return
    stamps = iso_times(curve["timestamps"])
    equity, drawdown = json_floats(curve["equity"]), json_floats(curve["drawdown"])
    buffer = StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for start in range(0, len(stamps), 10_000):  # a chunk per yield: few, small writes
        stop = start + 10_000
        rows = zip(stamps[start:stop], equity[start:stop], drawdown[start:stop], strict=True)
        writer.writerows((t, "" if e is None else repr(e), "" if d is None else repr(d))
                         for t, e, d in rows)  # fmt: skip
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


urlpatterns = [
    path("<int:pk>/charts.json", backtest_charts_view, name="backtest-charts"),
    path("<int:pk>/prices.json", backtest_prices_view, name="backtest-prices"),
    path("<int:pk>/equity.csv", backtest_equity_csv_view, name="backtest-equity-csv"),
]
