from django.contrib import admin

from backtesting.robustness.models import RobustnessRun


@admin.register(RobustnessRun)
class RobustnessRunAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "backtest", "owner", "status", "progress", "queued_at")
    list_filter = ("kind", "status")
    raw_id_fields = ("owner", "backtest")
    readonly_fields = ("claim_token", "lease_expires_at", "attempts")
