"""Walk-forward pages under /research/walk-forward/: my walk-forwards, a new one (the sweep
form's fields, prefilled from a backtest with ?backtest=<id>, plus the windows), one
walk-forward (live progress, the stitched out-of-sample equity against buy-and-hold, the
windows), its status as JSON for the page's polling, and Cancel."""

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
from backtesting import selectors as backtest_selectors
from backtesting.marketdata.timeframes import Timeframe
from backtesting.optimization import forms as sweep_forms
from backtesting.optimization import selectors as sweep_selectors
from backtesting.optimization.models import Optimization, SpaceKind
from backtesting.walkforward import display, selectors, services
from backtesting.walkforward.models import WalkForward, WindowMode
from strategies.selectors import strategy_get, strategy_list, strategy_version_latest
from tradeplatform.errors import ConflictError, DomainError, NotFoundError, PermissionDeniedError

PER_PAGE = 25
DEFAULT_WINDOWS = {
    "mode": "rolling",
    "in_sample_bars": 250,
    "out_of_sample_bars": 60,
    "step_bars": 60,
}


def _visible(request: HttpRequest, pk: int, *, with_result: bool = False) -> WalkForward:
    try:
        return selectors.walkforward_get(user=request.user, pk=pk, with_result=with_result)
    except NotFoundError as exc:
        raise Http404 from exc


@login_required
@require_GET
def walkforward_list_view(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.walkforward_list(user=request.user), PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "walkforward/list.html", {"page": page, "section": "research"})


@login_required
@require_http_methods(["GET", "POST"])
def walkforward_create_view(request: HttpRequest) -> HttpResponse:
    if not has_role(request.user, Role.TRADER):
        raise PermissionDenied("Only traders can run walk-forwards; your role is read-only.")
    # Prefilled from a backtest (?backtest=) or a sweep (?optimization=: its space too).
    source = _source(request)
    strategy_id = source.strategy_version.strategy_id if source else request.GET.get("strategy")
    if not strategy_id:
        strategies = strategy_list(user=request.user)[:200]
        return render(
            request, "walkforward/choose.html", {"strategies": strategies, "section": "research"}
        )
    try:
        strategy = strategy_get(user=request.user, pk=strategy_id)
    except (NotFoundError, ValueError) as exc:
        raise Http404 from exc
    version = source.strategy_version if source else strategy_version_latest(strategy=strategy)
    symbols, first, last = backtest_selectors.runnable_instruments()
    initial = {**DEFAULT_WINDOWS, **sweep_forms.initial_from_backtest(source, symbols)}
    if not initial["start"] and first and last:
        initial.update(start=first.isoformat(), end=last.isoformat())
    errors: list[str] = []
    if request.method == "POST":
        try:
            data = _posted_input(request, version, dict(initial["settings"]))
            walkforward = services.walkforward_submit(owner=request.user, data=data)
            return redirect("walkforward:detail", walkforward.pk)
        except PermissionDeniedError as exc:
            raise PermissionDenied(exc.message) from exc
        except NotFoundError as exc:
            raise Http404(exc.message) from exc
        except DomainError as exc:
            errors = display.worded(exc)
    posted = request.POST if request.method == "POST" else None
    sweep = source if isinstance(source, Optimization) else None
    if sweep is not None and posted is None:
        initial.update(display.sweep_initial(sweep))
    context = {
        "strategy": strategy,
        "version": version,
        "source": source,
        "source_is_sweep": sweep is not None,
        "errors": errors,
        "rows": sweep_forms.parameter_rows(
            version,
            posted if posted is not None else display.sweep_ranges(sweep),
            initial["parameters"],
        ),
        "initial": posted if posted is not None else initial,
        "symbols": symbols,
        "timeframes": [t.value for t in Timeframe],
        "kinds": [(SpaceKind.GRID, "Grid"), (SpaceKind.RANDOM, "Random")],
        "modes": WindowMode.choices,
        "objectives": sweep_forms.OBJECTIVE_LABELS,
        "section": "research",
    }
    return render(request, "walkforward/new.html", context)


def _source(request: HttpRequest) -> Any:
    """The backtest or sweep whose inputs prefill the form (404 if not visible), else None."""
    try:
        if request.GET.get("optimization"):
            return sweep_selectors.optimization_get(
                user=request.user, pk=request.GET["optimization"]
            )
        if request.GET.get("backtest"):
            return backtest_selectors.backtest_get(user=request.user, pk=request.GET["backtest"])
    except (NotFoundError, ValueError) as exc:
        raise Http404 from exc
    return None


def _posted_input(request: HttpRequest, version: Any, settings: dict[str, Any]) -> Any:
    """The sweep's fields as the sweep form reads them, then the windows (whole bars)."""
    sweep = sweep_forms.sweep_input(request.POST, version, settings)
    lengths: dict[str, int] = {}
    problems: dict[str, str] = {}
    for key in ("in_sample_bars", "out_of_sample_bars", "step_bars"):
        try:
            lengths[key] = int(request.POST.get(key, ""))
        except ValueError:
            problems[key] = "Give a whole number of bars."
    if problems:
        from tradeplatform.errors import DomainValidationError

        raise DomainValidationError("Some fields are not valid.", details=problems)
    return services.WalkForwardInput(sweep=sweep, mode=request.POST.get("mode", ""), **lengths)


@login_required
@require_GET
def walkforward_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    walkforward = _visible(request, pk, with_result=True)
    context = {
        "walkforward": walkforward,
        "is_owner": walkforward.owner_id == request.user.pk,
        "section": "research",
        **display.detail_context(walkforward),
    }
    return render(request, "walkforward/detail.html", context)


@login_required
@require_GET
def walkforward_status_view(request: HttpRequest, pk: int) -> JsonResponse:
    walkforward = _visible(request, pk)
    return JsonResponse(
        {
            "status": walkforward.status,
            "progress": walkforward.progress,
            "finished": walkforward.is_finished,
            "windows_done": walkforward.windows.count(),
            "n_windows": walkforward.n_windows,
        }
    )


@login_required
@require_POST
def walkforward_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    walkforward = _visible(request, pk)
    if walkforward.owner_id != request.user.pk:
        raise Http404
    try:
        services.walkforward_cancel(walkforward=walkforward)
        messages.info(request, "Cancellation requested: it stops after the current window.")
    except ConflictError as exc:
        messages.error(request, str(exc))
    return redirect("walkforward:detail", walkforward.pk)


app_name = "walkforward"
urlpatterns = [
    path("", walkforward_list_view, name="list"),
    path("new/", walkforward_create_view, name="create"),
    path("<int:pk>/", walkforward_detail_view, name="detail"),
    path("<int:pk>/status/", walkforward_status_view, name="status"),
    path("<int:pk>/cancel/", walkforward_cancel_view, name="cancel"),
]
