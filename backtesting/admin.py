"""Admin for backtest jobs; the dead-letter list is where operators see and requeue failures.

Market data has its own admin (backtesting.marketdata.admin); webhooks register theirs in
backtesting.notifications.admin, imported below because Django autodiscovers `<app>.admin` only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from backtesting import services
from backtesting.models import Backtest, BacktestResult, DeadLetter
from backtesting.notifications import admin as _notifications_admin  # noqa: F401
from tradeplatform.errors import ConflictError


class BacktestResultInline(admin.StackedInline):
    """The result on the backtest's own page only: the list never loads it."""

    model = BacktestResult
    fields = readonly_fields = ("metrics", "timings", "curve_points", "sandbox_log")
    can_delete = False

    @admin.display(description="equity curve points")
    def curve_points(self, result: BacktestResult) -> int:
        return len(result.timestamps or b"") // 8  # int64 per point (backtesting.curves)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Backtest)
class BacktestAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "owner",
        "strategy_version",
        "status",
        "progress",
        "queue",
        "queued_at",
        "attempts",
    )
    list_filter = ("status", "queue", "timeframe")
    search_fields = ("id", "owner__username", "request_id")
    raw_id_fields = ("owner", "strategy_version", "rerun_of")
    filter_horizontal = ("instruments",)
    readonly_fields = ("claim_token", "lease_expires_at", "data_fingerprint_version")
    inlines = [BacktestResultInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Backtest]:
        # One query for a page of the list: owner and version joined, the strategy code not.
        return (
            super()
            .get_queryset(request)
            .select_related("owner", "strategy_version")
            .defer("strategy_version__code")
        )


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "task_name",
        "backtest",
        "request_id",
        "attempts",
        "created_at",
        "requeued_at",
    )
    list_filter = ("kind", "requeued_at")
    search_fields = ("request_id", "error", "task_name")
    readonly_fields = (
        "kind", "task_name", "task_args", "backtest", "delivery", "error", "request_id",
        "attempts", "created_at", "requeued_at", "requeued_by",
    )  # fmt: skip
    actions = ["requeue"]

    @admin.action(description="Requeue the selected jobs")
    def requeue(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        done = 0
        for letter in queryset:
            try:
                services.dead_letter_requeue(dead_letter=letter, user=request.user)
                done += 1
            except ConflictError:
                pass  # already requeued: nothing to do, the count below says so
        total = queryset.count()
        self.message_user(request, f"Requeued {done} of {total} jobs.", messages.INFO)
