"""Sweep pages under /research/sweeps/: my sweeps, a new sweep (prefilled from the strategy's
declared bounds or from a backtest), one sweep (live progress, top combinations, heatmap,
stability, DSR/PSR), its status as JSON for the page's polling, Cancel and Backtest-this."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import has_role
from accounts.models import Role
from backtesting import metric_display
from backtesting import selectors as backtest_selectors
from backtesting.jobs.fields import JobStatus
from backtesting.marketdata.timeframes import Timeframe
from backtesting.optimization import forms, selectors, services
from backtesting.optimization.models import Optimization, OptimizationResult, SpaceKind
from strategies.selectors import strategy_get, strategy_list, strategy_version_latest
from tradeplatform.errors import DomainError, NotFoundError, PermissionDeniedError

SWEEPS_PER_PAGE = 25
TOP_ROWS = 10
TOP_METRICS = ("total_return", "max_drawdown", "n_trades")


def _visible(request: HttpRequest, pk: int) -> Optimization:
    try:
        return selectors.optimization_get(user=request.user, pk=pk)
    except NotFoundError as exc:
        raise Http404 from exc


def _owned(request: HttpRequest, pk: int) -> Optimization:
    """The sweep, for an action: only its owner may act on it (others get 404)."""
    optimization = _visible(request, pk)
    if optimization.owner_id != request.user.pk:
        raise Http404
    return optimization


@login_required
@require_GET
def sweep_list_view(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.optimization_list(user=request.user), SWEEPS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {"page": page, "section": "research", "objectives": forms.OBJECTIVE_LABELS}
    return render(request, "optimization/list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def sweep_create_view(request: HttpRequest) -> HttpResponse:
    if not has_role(request.user, Role.TRADER):
        raise PermissionDenied("Only traders can run sweeps; your role is read-only.")
    backtest = _backtest_to_sweep(request)
    strategy_id = backtest.strategy_version.strategy_id if backtest else request.GET.get("strategy")
    if not strategy_id:
        strategies = strategy_list(user=request.user)[:200]
        return render(
            request, "optimization/choose.html", {"strategies": strategies, "section": "research"}
        )
    try:
        strategy = strategy_get(user=request.user, pk=strategy_id)
    except (NotFoundError, ValueError) as exc:
        raise Http404 from exc
    version = backtest.strategy_version if backtest else strategy_version_latest(strategy=strategy)
    symbols, first, last = backtest_selectors.runnable_instruments()
    initial = forms.initial_from_backtest(backtest, symbols)
    if not initial["start"] and first and last:
        initial.update(start=first.isoformat(), end=last.isoformat())
    errors: list[str] = []
    if request.method == "POST":
        try:
            data = forms.sweep_input(request.POST, version, dict(initial["settings"]))
            optimization = services.optimization_submit(owner=request.user, data=data)
            return redirect("optimization:sweep-detail", optimization.pk)
        except PermissionDeniedError as exc:
            raise PermissionDenied(exc.message) from exc
        except NotFoundError as exc:
            raise Http404(exc.message) from exc
        except DomainError as exc:
            errors = _worded(exc)
    posted = request.POST if request.method == "POST" else None
    context = {
        "strategy": strategy,
        "version": version,
        "backtest": backtest,
        "errors": errors,
        "rows": forms.parameter_rows(version, posted, initial["parameters"]),
        "initial": request.POST if posted is not None else initial,
        "symbols": symbols,
        "timeframes": [t.value for t in Timeframe],
        "kinds": SpaceKind.choices,
        "objectives": forms.OBJECTIVE_LABELS,
        "section": "research",
    }
    return render(request, "optimization/new.html", context)


def _backtest_to_sweep(request: HttpRequest) -> Any:
    if not request.GET.get("backtest"):
        return None
    try:
        return backtest_selectors.backtest_get(user=request.user, pk=request.GET["backtest"])
    except NotFoundError as exc:
        raise Http404 from exc


def _worded(exc: DomainError) -> list[str]:
    """Each problem as a line: the field, then what is wrong (a constraint with its column)."""
    details = exc.details if isinstance(exc.details, dict) else {}
    lines = []
    for field, problem in details.items():
        if isinstance(problem, dict):
            for key, value in problem.items():
                if isinstance(value, dict) and "message" in value:
                    where = f" (column {value['column']})" if value.get("column") else ""
                    name = int(key) + 1 if key.isdigit() else key
                    lines.append(f"{field} {name}{where}: {value['message']}")
                else:
                    lines.append(f"{field} {key}: {value}")
        else:
            said = "; ".join(str(p) for p in problem) if isinstance(problem, list) else str(problem)
            lines.append(f"{field}: {said}")
    return lines or [exc.message]


@login_required
@require_GET
def sweep_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    optimization = _visible(request, pk)
    top = list(
        selectors.optimization_results(optimization=optimization).filter(status="ok")[:TOP_ROWS]
    )
    failure = (
        OptimizationResult.objects.filter(optimization=optimization, status="failed")
        .order_by("index")
        .values_list("error_message", flat=True)
        .first()
    )
    context = {
        "optimization": optimization,
        "status": _status(optimization),
        "top": [(row, _top_cells(row)) for row in top],
        "failure": failure,
        "deflated": optimization.deflated or {},
        "chances": _chances(optimization.deflated or {}),
        "objective_label": forms.OBJECTIVE_LABELS.get(
            optimization.objective, optimization.objective
        ),
        "is_owner": optimization.owner_id == request.user.pk,
        "can_run": has_role(request.user, Role.TRADER),
        "section": "research",
    }
    return render(request, "optimization/detail.html", context)


def _chances(deflated: dict[str, Any]) -> dict[str, str]:
    """PSR and DSR as percentages with one decimal, never rounded up to a certain 100 %."""
    shown = {}
    for key in ("psr", "dsr"):
        value = deflated.get(key)
        if isinstance(value, int | float):
            tenths = min(int(value * 1000), 999)  # floor: 0.99996 reads 99.9 %, not 100 %
            shown[key] = f"{tenths / 10:.1f} %"
    return shown


def _top_cells(row: OptimizationResult) -> list[str]:
    return [metric_display.format_metric(key, row.metrics.get(key)) for key in TOP_METRICS]


def _status(optimization: Optimization) -> dict[str, Any]:
    """What the page's polling reads: status, progress, counts, best so far and the points."""
    best = selectors.optimization_best_so_far(optimization=optimization)
    return {
        "status": optimization.status,
        "status_label": JobStatus(optimization.status).label,
        "finished": optimization.is_finished,
        "progress": optimization.progress,
        "total": optimization.total,
        **selectors.optimization_counts(optimization=optimization),
        "objective": optimization.objective,
        "min_trades": optimization.min_trades,
        "best": {"index": best.index, "parameters": best.parameters, "objective": best.objective}
        if best
        else None,
        **selectors.optimization_points(optimization=optimization),
    }


@login_required
@require_GET
def sweep_status_view(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(_status(_visible(request, pk)))


@login_required
@require_POST
def sweep_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    optimization = _owned(request, pk)
    try:
        services.optimization_cancel(optimization=optimization)
        messages.success(request, "The sweep is being cancelled.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("optimization:sweep-detail", pk)


@login_required
@require_POST
def sweep_result_backtest_view(request: HttpRequest, pk: int, index: int) -> HttpResponse:
    optimization = _owned(request, pk)
    result = OptimizationResult.objects.filter(optimization=optimization, index=index).first()
    if result is None:
        raise Http404
    try:
        backtest = services.optimization_result_backtest(
            optimization=optimization, result=result, owner=request.user
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("optimization:sweep-detail", pk)
    return redirect("backtesting:backtest-detail", backtest.pk)


urlpatterns = [
    path("", sweep_list_view, name="sweep-list"),
    path("new/", sweep_create_view, name="sweep-create"),
    path("<int:pk>/", sweep_detail_view, name="sweep-detail"),
    path("<int:pk>/status.json", sweep_status_view, name="sweep-status"),
    path("<int:pk>/cancel/", sweep_cancel_view, name="sweep-cancel"),
    path(
        "<int:pk>/results/<int:index>/backtest/",
        sweep_result_backtest_view,
        name="sweep-result-backtest",
    ),
]
