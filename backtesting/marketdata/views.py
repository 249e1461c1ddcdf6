"""Operator pages for market data: upload a bar file and see the validation report."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.access import has_operator_access
from backtesting.marketdata.errors import BarImportError
from backtesting.marketdata.forms import BarImportForm
from backtesting.marketdata.services import bars_import


def import_form_handle(request: HttpRequest, form: BarImportForm) -> dict[str, object] | None:
    """Run the import for a bound, valid form; the report (ok or not) for the template."""
    data = form.cleaned_data
    try:
        report = bars_import(
            instrument=data["instrument"],
            source=data["file"],
            timeframe=data["timeframe"],
            tz_name=data["tz"],
            skip_invalid=data["skip_invalid"],
            use_adj_close=data["adjusted"],
        )
    except BarImportError as exc:
        return {"ok": False, "message": exc.message, **(exc.details or {})}
    return {"ok": True, "message": "Imported.", **report.as_dict()}


def import_page_process(
    request: HttpRequest, *, initial_symbol: str | None
) -> tuple[BarImportForm, dict[str, object] | None]:
    """The import form of the operator page and the admin: checks the operator, runs a
    posted import, or offers an empty form pre-filled with `initial_symbol`."""
    if not has_operator_access(request.user):
        raise PermissionDenied
    if request.method != "POST":
        return BarImportForm(initial={"instrument": initial_symbol}), None
    form = BarImportForm(request.POST, request.FILES)
    return form, import_form_handle(request, form) if form.is_valid() else None


@login_required
def bars_import_view(request: HttpRequest) -> HttpResponse:
    form, report = import_page_process(request, initial_symbol=request.GET.get("symbol"))
    status = 400 if report is not None and not report["ok"] else 200
    return render(
        request, "marketdata/import.html", {"form": form, "report": report}, status=status
    )
