"""Admin for strategies: versions are shown read-only (they are immutable)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from strategies.models import Strategy, StrategyVersion


class StrategyVersionInline(admin.TabularInline):
    model = StrategyVersion
    fields = ("number", "class_name", "code_sha256", "author", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Strategy)
class StrategyAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "is_shared", "archived_at", "updated_at")
    list_filter = ("is_shared", ("archived_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "owner__username")
    list_select_related = ("owner",)
    raw_id_fields = ("owner", "cloned_from")
    readonly_fields = ("created_at", "updated_at")
    inlines = [StrategyVersionInline]


@admin.register(StrategyVersion)
class StrategyVersionAdmin(admin.ModelAdmin):
    list_display = ("strategy", "number", "class_name", "author", "created_at")
    list_select_related = ("strategy", "author")
    search_fields = ("strategy__name", "code_sha256")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # versions are made by saving a strategy

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
