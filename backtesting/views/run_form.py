"""The run form: choose a strategy, then its version, instruments, range, costs and parameters."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods

from accounts.access import has_role
from accounts.models import Role
from backtesting import services
from backtesting.forms import BacktestForm, FormChoices
from backtesting.marketdata.models import Instrument
from backtesting.marketdata.selectors import data_availability
from strategies.models import Strategy, StrategyVersion
from strategies.selectors import (
    strategy_get,
    strategy_list,
    strategy_version_get,
    strategy_version_latest,
)
from tradeplatform.errors import (
    DomainValidationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)

STRATEGIES_PER_PAGE = 25


@login_required
@require_http_methods(["GET", "POST"])
def backtest_create_view(request: HttpRequest) -> HttpResponse:
    if not has_role(request.user, Role.TRADER):
        raise PermissionDenied("Only traders can run backtests; your role is read-only.")
    if not request.GET.get("strategy"):
        return _choose_strategy(request)
    strategy, version = _strategy_and_version(request)
    versions = list(strategy.versions.defer("code").order_by("number"))
    choices = _form_choices(versions)
    # A link from an instrument's page names it: it comes ticked.
    asked = [s.strip().upper() for s in request.GET.getlist("instruments")]
    chosen = [s for s in asked if s in choices.availability]
    form = BacktestForm(request.POST or None, choices=choices, version=version, chosen=chosen)
    if request.method == "POST" and form.is_valid():
        try:
            backtest = services.backtest_submit(owner=request.user, data=form.to_input())
        except NotFoundError as exc:
            raise Http404(exc.message) from exc
        except PermissionDeniedError as exc:
            raise PermissionDenied(exc.message) from exc
        except (DomainValidationError, RateLimitedError) as exc:
            form.add_domain_error(exc)  # quota and validation problems alike, shown on the form
        else:
            messages.success(request, f"Backtest {backtest.pk} is queued.")
            return redirect("backtesting:backtest-detail", pk=backtest.pk)
    context = {
        "strategy": strategy,
        "version": version,
        "form": form,
        "has_data": bool(choices.availability),
        "availability": choices.as_json(),
    }
    return render(request, "backtests/new.html", context)


def _choose_strategy(request: HttpRequest) -> HttpResponse:
    """Mine and shared strategies, searchable by name, each with a Run button; paginated."""
    query = request.GET.get("q", "").strip()
    strategies = strategy_list(user=request.user)
    if query:
        strategies = strategies.filter(name__icontains=query)
    page = Paginator(strategies, STRATEGIES_PER_PAGE).get_page(request.GET.get("page"))
    # The instruments a link asked for ride along to the form.
    instruments = "".join(f"&instruments={quote(s)}" for s in request.GET.getlist("instruments"))
    context = {"page": page, "query": query, "instruments": instruments}
    return render(request, "backtests/choose_strategy.html", context)


def _form_choices(versions: list[StrategyVersion]) -> FormChoices:
    availability = data_availability()
    currencies = set(
        Instrument.objects.filter(symbol__in=availability).values_list("currency", flat=True)
    )
    # Cash is held in the instruments' currency; the engine converts none.
    return FormChoices(versions, availability, "/".join(sorted(currencies)) or "USD")


def _strategy_and_version(request: HttpRequest) -> tuple[Strategy, StrategyVersion]:
    """The strategy named in the URL, and the version whose parameters the form shows."""
    try:
        strategy = strategy_get(user=request.user, pk=_positive_int(request.GET["strategy"]))
        # On POST the chosen version decides which parameter fields are read.
        number = _positive_int(request.POST.get("version") or request.GET.get("version") or "0")
        if number:
            return strategy, strategy_version_get(strategy=strategy, number=number)
        return strategy, strategy_version_latest(strategy=strategy)
    except (NotFoundError, ValueError) as exc:
        raise Http404("No such strategy or version.") from exc


def _positive_int(raw: Any) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError(raw)
    return value


urlpatterns = [
    path("new/", backtest_create_view, name="backtest-create"),
]
