"""Admin for parameter sweeps: read-only, for operators looking at a sweep and its chunks."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from backtesting.optimization.models import Optimization, OptimizationChunk


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ChunkInline(admin.TabularInline):
    model = OptimizationChunk
    fields = readonly_fields = ("number", "status", "attempts", "progress", "error_code")
    can_delete = False
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Optimization)
class OptimizationAdmin(ReadOnlyAdmin):
    list_display = ("id", "owner", "status", "progress", "total", "objective", "queued_at")
    list_filter = ("status",)
    list_select_related = ("owner",)
    raw_id_fields = ("owner", "strategy_version")
    inlines = [ChunkInline]


@admin.register(OptimizationChunk)
class OptimizationChunkAdmin(ReadOnlyAdmin):
    list_display = ("id", "optimization", "number", "status", "attempts", "queued_at")
    list_filter = ("status",)
    raw_id_fields = ("owner", "optimization")
