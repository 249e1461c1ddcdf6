"""Admin for walk-forwards: read the job, its windows and its state (operators)."""

from django.contrib import admin

from backtesting.walkforward.models import WalkForward, WalkForwardWindow


class WindowInline(admin.TabularInline):
    model = WalkForwardWindow
    fields = readonly_fields = ("index", "oos_start", "oos_end", "parameters", "is_objective")
    can_delete = False
    extra = 0


@admin.register(WalkForward)
class WalkForwardAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "strategy_version", "mode", "status", "progress", "queued_at")
    list_filter = ("status", "mode")
    raw_id_fields = ("owner", "strategy_version")
    readonly_fields = ("claim_token", "lease_expires_at", "attempts")
    inlines = [WindowInline]
