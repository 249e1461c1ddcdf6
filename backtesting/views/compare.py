"""Compare two to four of my finished backtests: metrics side by side, equity and drawdowns.

GET /backtests/compare/?ids=1&ids=2 is the page (a picker when the ids do not make a
comparison); GET /backtests/compare.json?ids=1&ids=2 its chart series. Only the user's own
backtests: anyone else's id is a 404, as on every other backtest page.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_http_methods

from backtesting import selectors
from backtesting.comparison import (
    MAX_COMPARED,
    MIN_COMPARED,
    compare_groups,
    compare_series,
)
from backtesting.marketdata.models import Instrument
from backtesting.models import Backtest, BacktestStatus
from tradeplatform.errors import NotFoundError


class CompareRequestError(ValueError):
    """The ids do not make a comparison; the message says why, for the page to show."""


@login_required
@require_http_methods(["GET"])
def backtest_compare_view(request: HttpRequest) -> HttpResponse:
    raw = request.GET.getlist("ids")
    try:
        backtests = _backtests(request)
    except CompareRequestError as exc:
        return _picker(request, str(exc) if raw else "", raw)
    context = {
        "backtests": backtests,
        "groups": compare_groups([b.metrics or {} for b in backtests], _currencies(backtests)),
        "ids_query": "&".join(f"ids={b.pk}" for b in backtests),
        "candidates": selectors.backtests_comparable(user=request.user),
        "checked": {str(b.pk) for b in backtests},
    }
    return render(request, "backtests/compare.html", context)


@login_required
@require_http_methods(["GET"])
def backtest_compare_data_view(request: HttpRequest) -> JsonResponse:
    """The compare page's chart series: per backtest its rebased equity and its drawdown."""
    try:
        backtests = _backtests(request)
    except CompareRequestError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    series = [{"id": b.pk, "label": _label(b), **compare_series(b)} for b in backtests]
    return JsonResponse({"series": series})


def _backtests(request: HttpRequest) -> list[Backtest]:
    """The requested backtests, in the order given; 404 for one that is not the user's."""
    ids = _parse_ids(request.GET.getlist("ids"))
    try:
        backtests = selectors.backtests_to_compare(user=request.user, ids=ids)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc
    unfinished = [b for b in backtests if b.status != BacktestStatus.SUCCEEDED]
    if unfinished:
        said = ", ".join(f"#{b.pk} ({b.get_status_display().lower()})" for b in unfinished)
        raise CompareRequestError(f"Only succeeded backtests can be compared: not {said}.")
    return backtests


def _parse_ids(raw: list[str]) -> list[int]:
    # "ids=1&ids=2" from the forms, "ids=1,2" typed by hand: both read the same.
    parts = [p.strip() for value in raw for p in value.split(",") if p.strip()]
    if not all(p.isdigit() for p in parts):
        raise CompareRequestError("Backtest ids are whole numbers, like ?ids=12&ids=15.")
    ids = list(dict.fromkeys(int(p) for p in parts))  # each once, in the order given
    if not MIN_COMPARED <= len(ids) <= MAX_COMPARED:
        raise CompareRequestError(
            f"Choose {MIN_COMPARED} to {MAX_COMPARED} backtests to compare "
            f"({len(ids)} {'was' if len(ids) == 1 else 'were'} given)."
        )
    return ids


def _picker(request: HttpRequest, message: str, raw: list[str]) -> HttpResponse:
    context = {
        "message": message,
        "candidates": selectors.backtests_comparable(user=request.user),
        "checked": {p.strip() for value in raw for p in value.split(",")},
    }
    return render(request, "backtests/compare.html", context)


def _currencies(backtests: list[Backtest]) -> list[str]:
    # Cash is in the first instrument's currency (the engine converts none).
    firsts = {b.symbols[0] for b in backtests if b.symbols}
    by_symbol = dict(Instrument.objects.filter(symbol__in=firsts).values_list("symbol", "currency"))
    return [by_symbol.get(b.symbols[0], "USD") if b.symbols else "USD" for b in backtests]


def _label(backtest: Backtest) -> str:
    version = backtest.strategy_version
    return f"#{backtest.pk} {version.strategy.name} v{version.number}"


urlpatterns = [
    path("compare/", backtest_compare_view, name="backtest-compare"),
    path("compare.json", backtest_compare_data_view, name="backtest-compare-data"),
]
