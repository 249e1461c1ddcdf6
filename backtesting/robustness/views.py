"""Robustness pages: start a test from a backtest, one run (live progress, then its charts),
its status as JSON for the page's polling, and Cancel."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST

from backtesting.robustness import selectors, services
from backtesting.robustness.display import result_context
from backtesting.robustness.models import RobustnessRun
from backtesting.selectors import backtest_get
from tradeplatform.errors import (
    ConflictError,
    DomainValidationError,
    NotFoundError,
    PermissionDeniedError,
)

# The start form's fields, parsed as numbers; the service checks every bound.
NUMBER_FIELDS = {
    "n_runs": int,
    "n_strategies": int,
    "n_checks": int,
    "seed": int,
    "mean_block_length": float,
}


def _run(request: HttpRequest, pk: int, *, with_result: bool = False) -> RobustnessRun:
    try:
        return selectors.robustness_get(user=request.user, pk=pk, with_result=with_result)
    except NotFoundError as exc:
        raise Http404 from exc


@login_required
@require_POST
def robustness_start_view(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        backtest = backtest_get(user=request.user, pk=pk)
    except NotFoundError as exc:
        raise Http404 from exc
    try:
        run = services.robustness_submit(
            owner=request.user,
            backtest=backtest,
            kind=request.POST.get("kind", ""),
            parameters=_form_parameters(request),
        )
    except (DomainValidationError, ConflictError, PermissionDeniedError) as exc:
        messages.error(request, _error_text(exc))
        return redirect(reverse("backtesting:backtest-detail", args=[pk]) + "#robustness")
    return redirect("robustness:run", run.pk)


def _form_parameters(request: HttpRequest) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, kind_of in NUMBER_FIELDS.items():
        raw = request.POST.get(name, "").strip()
        if raw:
            try:
                out[name] = kind_of(raw)
            except ValueError:
                out[name] = raw  # the service names the field in its error
    if request.POST.get("method"):
        out["method"] = request.POST["method"]
    return out


def _error_text(exc: Exception) -> str:
    details = getattr(exc, "details", None)
    if isinstance(details, dict) and details:
        fields = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in details.items())
        return f"{exc} {fields}"
    return str(exc)


@login_required
@require_GET
def robustness_run_view(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(request, pk, with_result=True)
    context = {
        "run": run,
        "backtest": run.backtest,
        "is_owner": run.owner_id == request.user.pk,
        **result_context(run),
    }
    return render(request, "robustness/run.html", context)


@login_required
@require_GET
def robustness_status_view(request: HttpRequest, pk: int) -> JsonResponse:
    run = _run(request, pk)
    return JsonResponse(
        {"status": run.status, "progress": run.progress, "finished": run.is_finished}
    )


@login_required
@require_POST
def robustness_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(request, pk)
    if run.owner_id != request.user.pk:
        raise Http404
    try:
        services.robustness_cancel(run=run)
        messages.info(request, "Cancellation requested.")
    except ConflictError as exc:
        messages.error(request, str(exc))
    return redirect("robustness:run", run.pk)


app_name = "robustness"
urlpatterns = [
    path("backtests/<int:pk>/start/", robustness_start_view, name="start"),
    path("<int:pk>/", robustness_run_view, name="run"),
    path("<int:pk>/status/", robustness_status_view, name="status"),
    path("<int:pk>/cancel/", robustness_cancel_view, name="cancel"),
]
