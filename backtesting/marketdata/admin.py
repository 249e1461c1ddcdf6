"""Admin for market data: instruments (with a bar-import page), series versions, bars."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from backtesting.marketdata.models import Bar, Instrument, SeriesVersion
from backtesting.marketdata.views import import_page_process


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = (
        "symbol",
        "name",
        "asset_class",
        "exchange",
        "currency",
        "timezone",
        "is_active",
        "import_link",
    )
    list_filter = ("asset_class", "is_active", "exchange")
    search_fields = ("symbol", "name")

    @admin.display(description="Bars")
    def import_link(self, obj: Instrument) -> str:
        url = reverse("admin:marketdata_import_bars") + f"?instrument={obj.symbol}"
        return format_html('<a href="{}">Import…</a>', url)

    def get_urls(self) -> list[URLPattern]:
        extra = [
            path(
                "import-bars/",
                self.admin_site.admin_view(self.import_bars_view),
                name="marketdata_import_bars",
            ),
        ]
        return extra + super().get_urls()

    def import_bars_view(self, request: HttpRequest) -> HttpResponse:
        initial = request.GET.get("instrument")
        form, report = import_page_process(request, initial_symbol=initial)
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "report": report,
            "title": "Import bars",
        }
        return TemplateResponse(request, "marketdata/admin_import.html", context)


@admin.register(SeriesVersion)
class SeriesVersionAdmin(admin.ModelAdmin):
    list_display = ("instrument", "timeframe", "version", "updated_at")
    list_filter = ("timeframe",)
    readonly_fields = ("instrument", "timeframe", "version", "updated_at")


@admin.register(Bar)
class BarAdmin(admin.ModelAdmin):
    # Read-only: bars change only through the import service, which keeps versions in step.
    list_display = (
        "instrument",
        "timeframe",
        "timestamp",
        "open",
        "high",
        "low",
        "close",
        "volume",
    )
    list_filter = ("timeframe",)
    list_select_related = ("instrument",)
    show_full_result_count = False  # COUNT(*) over millions of bars on every page is too slow
    raw_id_fields = ("instrument",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
