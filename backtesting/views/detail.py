"""Backtest pages: my backtests, one backtest (live status, metrics, trades, settings, error),
its status as JSON for the page's polling, and the Rerun, Cancel and Delete actions."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from accounts.access import has_role
from accounts.models import Role
from backtesting import detail_display, metric_display, selectors, services
from backtesting.jobs.fields import JobStatus
from backtesting.models import Backtest
from tradeplatform.errors import (
    ConflictError,
    DomainValidationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)

BACKTESTS_PER_PAGE = 25
TRADES_PER_PAGE = 50
LIST_METRICS = ("total_return", "sharpe_ratio", "max_drawdown")
# The trades table's columns: (sort key, heading); None: not sortable.
TRADE_COLUMNS = (
    ("seq", "#"), ("symbol", "Symbol"), ("direction", "Side"), ("size", "Size"),
    ("entry_time", "Entry"), ("exit_time", "Exit"), ("net_pnl", "Net P&L"),
    ("net_pnl_pct", "Return"), ("bars_held", "Bars"),
)  # fmt: skip
NUMERIC_TRADE_COLUMNS = frozenset({"seq", "size", "net_pnl", "net_pnl_pct", "bars_held"})


def _visible(request: HttpRequest, pk: int, *, with_result: bool = False) -> Backtest:
    try:
        return selectors.backtest_get(
            user=request.user, pk=pk, with_result=with_result, without_curves=True
        )
    except NotFoundError as exc:
        raise Http404 from exc


def _owned(request: HttpRequest, pk: int) -> Backtest:
    """The backtest, for an action: only its owner may act on it (others get 404)."""
    backtest = _visible(request, pk)
    if backtest.owner_id != request.user.pk:
        raise Http404
    return backtest


@login_required
@require_GET
def backtest_list_view(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status") or ""
    if status not in JobStatus.values:
        status = ""
    qs = selectors.backtest_list(user=request.user, status=status or None)
    page = Paginator(qs, BACKTESTS_PER_PAGE).get_page(request.GET.get("page"))
    headline = selectors.backtest_headline_metrics(
        backtest_ids=[bt.pk for bt in page], keys=LIST_METRICS
    )
    rows = [
        (bt, [metric_display.metric_row(k, headline.get(bt.pk, {})) for k in LIST_METRICS])
        for bt in page
    ]
    context = {
        "page": page,
        "rows": rows,
        "status": status,
        "statuses": JobStatus.choices,
        "page_range": page.paginator.get_elided_page_range(page.number),
    }
    return render(request, "backtests/list.html", context)


@login_required
@require_GET
def backtest_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    backtest = _visible(request, pk, with_result=True)
    context: dict[str, Any] = {
        "backtest": backtest,
        "is_owner": backtest.owner_id == request.user.pk,
        "can_run": has_role(request.user, Role.TRADER),
        "status": detail_display.status_payload(backtest),
        "settings_facts": detail_display.run_settings_facts(backtest),
        "timing_facts": detail_display.timing_facts(backtest),
    }
    metrics = backtest.metrics
    if metrics:
        context["cards"] = metric_display.headline_cards_for(metrics)
        context["metric_groups"] = metric_display.metric_groups_for(metrics)
        context.update(_trades_context(request, backtest))
    if backtest.error_code:
        context.update(_error_context(backtest))
    return render(request, "backtests/detail.html", context)


def _trades_context(request: HttpRequest, backtest: Backtest) -> dict[str, Any]:
    symbol = request.GET.get("symbol", "")
    symbol = symbol if symbol in backtest.symbols else ""
    side = request.GET.get("side", "")
    side = side if side in ("long", "short") else ""
    sort = request.GET.get("sort", "seq")
    if sort.removeprefix("-") not in selectors.TRADE_SORT_FIELDS:
        sort = "seq"
    trades = selectors.backtest_trades_filtered(
        backtest=backtest, symbol=symbol, side=side, sort=sort
    )
    page: Page[Any] = Paginator(trades, TRADES_PER_PAGE).get_page(request.GET.get("page"))
    return {
        "trades": page,
        "trade_page_range": page.paginator.get_elided_page_range(page.number),
        "trade_columns": [_column(key, label, sort) for key, label in TRADE_COLUMNS],
        "trade_filter": {"symbol": symbol, "side": side, "sort": sort},
    }


def _column(key: str, label: str, sort: str) -> dict[str, Any]:
    """A sortable heading: its link sorts ascending, or descending when already ascending."""
    current = sort.removeprefix("-") == key
    descending = sort.startswith("-")
    return {
        "key": key,
        "label": label,
        "next_sort": f"-{key}" if current and not descending else key,
        "aria_sort": ("descending" if descending else "ascending") if current else "none",
        "numeric": key in NUMERIC_TRADE_COLUMNS,
    }


def _error_context(backtest: Backtest) -> dict[str, Any]:
    line = detail_display.failing_line(backtest.error_details)
    code = backtest.strategy_version.code
    return {
        "error_line": line,
        "error_excerpt": detail_display.code_excerpt(code, line) if line else [],
        "error_traceback": (backtest.error_details or {}).get("traceback") or [],
        "error_problems": (backtest.error_details or {}).get("problems") or [],
    }


@login_required
@require_GET
def backtest_status_view(request: HttpRequest, pk: int) -> JsonResponse:
    """Status and progress for the detail page's polling (static/js/backtest-live.js)."""
    response = JsonResponse(detail_display.status_payload(_visible(request, pk)))
    response["Cache-Control"] = "no-store"
    return response


def _require_trader(request: HttpRequest) -> None:
    if not has_role(request.user, Role.TRADER):
        raise PermissionDenied("Your role is read-only: only traders can run or change backtests.")


@login_required
@require_POST
def backtest_rerun_view(request: HttpRequest, pk: int) -> HttpResponse:
    backtest = _owned(request, pk)
    _require_trader(request)
    try:
        rerun = services.backtest_rerun(backtest=backtest, owner=request.user)
    except PermissionDeniedError as exc:
        raise PermissionDenied(exc.message) from exc
    except (DomainValidationError, RateLimitedError, NotFoundError) as exc:
        messages.error(request, f"Could not rerun backtest {backtest.pk}: {exc.message}")
        return redirect("backtesting:backtest-detail", pk=backtest.pk)
    messages.success(request, f"Backtest {rerun.pk} is queued: a rerun of backtest {backtest.pk}.")
    return redirect("backtesting:backtest-detail", pk=rerun.pk)


@login_required
@require_POST
def backtest_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    backtest = _owned(request, pk)
    _require_trader(request)
    try:
        backtest = services.backtest_cancel(backtest=backtest)
    except ConflictError as exc:
        messages.info(request, exc.message)
    else:
        if backtest.status == JobStatus.CANCELLED:
            messages.success(request, f"Backtest {backtest.pk} is cancelled.")
        else:
            messages.success(request, f"Backtest {backtest.pk} will stop in a moment.")
    return redirect("backtesting:backtest-detail", pk=backtest.pk)


@login_required
@require_POST
def backtest_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    backtest = _owned(request, pk)
    _require_trader(request)
    services.backtest_delete(backtest=backtest)
    messages.success(request, f"Backtest {pk} and its results are deleted.")
    return redirect("backtesting:backtest-list")


urlpatterns = [
    path("", backtest_list_view, name="backtest-list"),
    path("<int:pk>/", backtest_detail_view, name="backtest-detail"),
    path("<int:pk>/status.json", backtest_status_view, name="backtest-status"),
    path("<int:pk>/rerun/", backtest_rerun_view, name="backtest-rerun"),
    path("<int:pk>/cancel/", backtest_cancel_view, name="backtest-cancel"),
    path("<int:pk>/delete/", backtest_delete_view, name="backtest-delete"),
]
