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


@login_required
def bars_import_view(request: HttpRequest) -> HttpResponse:
    if not has_operator_access(request.user):
        raise PermissionDenied
    report = None
    if request.method == "POST":
        form = BarImportForm(request.POST, request.FILES)
        if form.is_valid():
            report = import_form_handle(request, form)
    else:
        form = BarImportForm(initial={"instrument": request.GET.get("symbol")})
    status = 400 if report is not None and not report["ok"] else 200
    return render(
        request, "marketdata/import.html", {"form": form, "report": report}, status=status
    )
