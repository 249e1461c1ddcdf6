"""Server-rendered pages of the strategies app (login required; no inline JS or CSS).

Each view parses the form, calls one service or selector and renders. Domain errors
become Django's 404/403 pages; validation problems are shown next to the code.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import has_operator_access, has_role
from accounts.models import Role
from accounts.quotas import QuotaExceededError
from strategies import selectors, services
from strategies.forms import CloneForm, CodeCheckForm, StrategyForm
from strategies.library import ExampleStrategy, example_get, example_list
from strategies.models import Strategy
from tradeplatform.errors import (
    DomainError,
    DomainValidationError,
    NotFoundError,
    PermissionDeniedError,
)

View = Callable[..., HttpResponse]
STRATEGIES_PER_PAGE = 25


def _domain_errors_as_http(view: View) -> View:
    """NotFoundError -> the 404 page, PermissionDeniedError -> the 403 page."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFoundError as exc:
            raise Http404(exc.message) from exc
        except PermissionDeniedError as exc:
            raise PermissionDenied(exc.message) from exc

    return wrapper


def page(view: View) -> View:
    return login_required(_domain_errors_as_http(view))


@dataclass
class CodeLine:
    number: int
    text: str
    problems: list[dict[str, Any]] = field(default_factory=list)


def numbered_lines(code: str, problems: list[dict[str, Any]] | None = None) -> list[CodeLine]:
    """The code as numbered lines, each carrying the problems reported on it."""
    lines = [CodeLine(n, text) for n, text in enumerate(code.splitlines() or [""], start=1)]
    for problem in problems or []:
        # Whole-file problems (line 0) and those past the end are listed above the code.
        if 1 <= problem["line"] <= len(lines):
            lines[problem["line"] - 1].problems.append(problem)
    return lines


def _can_edit(user: Any, strategy: Strategy) -> bool:
    return has_role(user, Role.TRADER) and (
        strategy.owner_id == user.pk or has_operator_access(user)
    )


@page
def strategy_list_view(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    strategies = selectors.strategy_list(user=request.user, search=search)
    page_obj = Paginator(strategies, STRATEGIES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page_obj": page_obj,
        "page_range": page_obj.paginator.get_elided_page_range(page_obj.number),
        "q": search,
        "can_create": has_role(request.user, Role.TRADER),
    }
    return render(request, "strategies/list.html", context)


@page
@require_http_methods(["GET", "POST"])
def strategy_create_view(request: HttpRequest) -> HttpResponse:
    if not has_role(request.user, Role.TRADER):
        raise PermissionDenied("Only traders can create strategies.")
    template = example_get(request.GET.get("template", ""))
    initial = {"name": template.name, "code": template.code} if template else {}
    form = StrategyForm(request.POST or None, initial=initial)
    problems: list[dict[str, Any]] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            strategy = services.strategy_create(owner=request.user, **data)
        except (DomainValidationError, QuotaExceededError) as exc:
            problems = _form_errors(form, exc)
        else:
            messages.success(request, f"Created “{strategy.name}” (version 1).")
            return redirect("strategies:detail", pk=strategy.pk)
    context = {
        "form": form,
        "problems": problems,
        "templates": _template_cards(),
        "chosen": template,
    }
    context["code_lines"] = _code_lines(form, problems)
    return render(request, "strategies/form.html", context)


@page
@require_http_methods(["GET", "POST"])
def strategy_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    strategy = selectors.strategy_get_editable(user=request.user, pk=pk)
    latest = selectors.strategy_version_latest(strategy=strategy)
    initial = {
        "name": strategy.name,
        "description": strategy.description,
        "shared": strategy.is_shared,
        "code": latest.code,
    }
    form = StrategyForm(request.POST or None, initial=initial)
    problems: list[dict[str, Any]] = []
    if request.method == "POST" and form.is_valid():
        try:
            version = services.strategy_update(
                strategy=strategy, user=request.user, **form.cleaned_data
            )
        except DomainValidationError as exc:
            problems = _form_errors(form, exc)
        else:
            messages.success(request, _saved_message(version, latest.number))
            return redirect("strategies:detail", pk=strategy.pk)
    context = {"form": form, "problems": problems, "strategy": strategy}
    context["code_lines"] = _code_lines(form, problems)
    return render(request, "strategies/form.html", context)


@page
def strategy_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    strategy = selectors.strategy_get(user=request.user, pk=pk)
    versions = list(strategy.versions.select_related("author").order_by("-number"))
    latest = versions[0]
    context = {
        "strategy": strategy,
        "latest": latest,
        "versions": versions,
        "code_lines": numbered_lines(latest.code),
        "can_edit": _can_edit(request.user, strategy),
        "can_clone": has_role(request.user, Role.TRADER)
        and (strategy.is_shared or strategy.owner_id == request.user.pk),
        # The compare form starts on the latest change: the previous version to the latest.
        "numbers": [version.number for version in versions],
        "diff_from": versions[1].number if len(versions) > 1 else latest.number,
        "diff_to": latest.number,
    }
    return render(request, "strategies/detail.html", context)


@page
def strategy_version_view(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    strategy = selectors.strategy_get(user=request.user, pk=pk)
    version = selectors.strategy_version_get(strategy=strategy, number=number)
    context = {
        "strategy": strategy,
        "version": version,
        "code_lines": numbered_lines(version.code),
        "can_run": has_role(request.user, Role.TRADER),
    }
    return render(request, "strategies/version.html", context)


@page
def strategy_diff_view(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    """Version `number` against ?against= (default: the version before it)."""
    strategy = selectors.strategy_get(user=request.user, pk=pk)
    return _diff_page(request, strategy, number, _int_or_none(request.GET.get("against")))


@page
def strategy_compare_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Any two versions: ?from=&to= (default: the latest change)."""
    strategy = selectors.strategy_get(user=request.user, pk=pk)
    to_number = _int_or_none(request.GET.get("to"))
    if to_number is None:
        to_number = selectors.strategy_version_latest(strategy=strategy).number
    return _diff_page(request, strategy, to_number, _int_or_none(request.GET.get("from")))


@page
@require_POST
def strategy_validate_view(request: HttpRequest) -> JsonResponse:
    """The editor's Validate button: every problem with its line and column; stores nothing."""
    form = CodeCheckForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"error": " ".join(map(str, form["code"].errors))}, status=400)
    try:
        verdict = services.strategy_code_check(form.cleaned_data["code"])
    except services.StrategyCodeError as exc:
        verdict = exc.verdict
    return JsonResponse(verdict.to_dict())


@page
@require_POST
def strategy_clone_view(request: HttpRequest, pk: int) -> HttpResponse:
    source = selectors.strategy_get(user=request.user, pk=pk)
    form = CloneForm(request.POST)
    name = form.cleaned_data["name"] if form.is_valid() else None
    try:
        clone = services.strategy_clone(strategy=source, new_owner=request.user, name=name or None)
    except (DomainValidationError, QuotaExceededError) as exc:
        messages.error(request, _error_text(exc))
        return redirect("strategies:detail", pk=source.pk)
    messages.success(
        request,
        f"Cloned “{source.name}” into your own private strategy “{clone.name}”. "
        "This copy is yours to edit; the original is unchanged.",
    )
    return redirect("strategies:detail", pk=clone.pk)


@page
@require_http_methods(["GET", "POST"])
def strategy_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    strategy = selectors.strategy_get_editable(user=request.user, pk=pk)
    if request.method == "POST":
        services.strategy_delete(strategy=strategy, user=request.user)
        messages.success(request, f"Archived “{strategy.name}”.")
        return redirect("strategies:list")
    return render(request, "strategies/confirm_delete.html", {"strategy": strategy})


# --------------------------------------------------------------------------- helpers


def _diff_page(
    request: HttpRequest, strategy: Strategy, number: int, against: int | None
) -> HttpResponse:
    try:
        diff = selectors.strategy_version_diff(strategy=strategy, number=number, against=against)
    except DomainValidationError:
        diff = None  # version 1 with nothing to compare: the page offers the choice
    numbers = list(strategy.versions.order_by("-number").values_list("number", flat=True))
    context = {
        "strategy": strategy,
        "number": number,
        "diff": diff,
        "numbers": numbers,
        "diff_from": diff.from_number if diff else None,
        "diff_to": number,
    }
    return render(request, "strategies/diff.html", context)


@dataclass(frozen=True)
class TemplateCard:
    slug: str
    name: str
    summary: str


def _template_cards() -> list[TemplateCard]:
    """Each example as a card: its short name and its title without the name repeated."""
    return [TemplateCard(e.slug, e.name, _summary(e)) for e in example_list()]


def _summary(example: ExampleStrategy) -> str:
    head, sep, rest = example.title.partition(": ")
    return rest if sep and head.lower() == example.name.lower() else example.title


def _form_errors(form: StrategyForm, exc: DomainError) -> list[dict[str, Any]]:
    """Put field errors on the form; return the code problems to show next to the code."""
    if isinstance(exc, services.StrategyCodeError):
        form.add_error("code", exc.message)
        return list(exc.details["problems"])
    details = exc.details if isinstance(exc.details, dict) else {}
    for name, errors in details.items():
        if name in form.fields:
            for message in errors:
                form.add_error(name, message)
    if not any(name in form.fields for name in details):
        form.add_error(None, exc.message)
    return []


def _code_lines(form: StrategyForm, problems: list[dict[str, Any]]) -> list[CodeLine]:
    return numbered_lines(form["code"].value() or "", problems) if problems else []


def _saved_message(version: Any, previous_number: int) -> str:
    if version is None:
        return f"Saved. The code did not change, so it is still version {previous_number}."
    return f"Saved as version {version.number}."


def _error_text(exc: DomainError) -> str:
    details = exc.details if isinstance(exc.details, dict) else {}
    parts = [str(m) for errors in details.values() if isinstance(errors, list) for m in errors]
    return " ".join(parts) or exc.message


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None
