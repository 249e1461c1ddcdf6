"""The operators' console: users with role, activity and quotas; role/deactivate actions.

Role and activity change only through accounts.services (actions below), so groups,
is_staff and token revocation stay consistent. Operators cannot edit superusers or grant
themselves permissions: those fields are read-only unless you are a superuser.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts import services
from accounts.access import signed_in_user
from accounts.models import Role, User

_SUPERUSER_ONLY = ("is_superuser", "is_staff", "groups", "user_permissions")


@admin.register(User)
class TradePlatformUserAdmin(UserAdmin):
    list_display = (
        "username",
        "email",
        "display_name",
        "role",
        "is_active",
        "last_login",
        "date_joined",
    )
    list_filter = ("role", "is_active", "is_staff", "is_superuser", "last_login")
    search_fields = ("username", "email", "display_name")
    ordering = ("username",)
    actions = ["deactivate_users", "make_viewer", "make_trader", "make_operator"]
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("Platform", {"fields": ("display_name", "role", "token_version")}),
        (
            "Quota overrides (empty = the role's default)",
            {"fields": ("quota_strategies", "quota_concurrent_backtests", "quota_daily_backtests")},
        ),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # Role and active flag change through the actions so services keep everything in step.
        readonly: tuple[str, ...] = (
            "role",
            "is_active",
            "token_version",
            "last_login",
            "date_joined",
        )
        if not request.user.is_superuser:
            readonly += _SUPERUSER_ONLY
        return readonly

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def _editable(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        if request.user.is_superuser:
            return queryset
        return queryset.filter(is_superuser=False).exclude(pk=signed_in_user(request.user).pk)

    @admin.action(description="Deactivate (revokes sessions and tokens)", permissions=["change"])
    def deactivate_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        users = list(self._editable(request, queryset))
        for user in users:
            services.user_deactivate(user=user)
        self.message_user(request, f"Deactivated {len(users)} user(s).", messages.SUCCESS)

    def _set_role(self, request: HttpRequest, queryset: QuerySet[User], role: Role) -> None:
        users = list(self._editable(request, queryset))
        for user in users:
            services.user_change_role(user=user, role=role)
        self.message_user(request, f"{len(users)} user(s) are now {role.label}s.", messages.SUCCESS)

    @admin.action(description="Change role to viewer", permissions=["change"])
    def make_viewer(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._set_role(request, queryset, Role.VIEWER)

    @admin.action(description="Change role to trader", permissions=["change"])
    def make_trader(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._set_role(request, queryset, Role.TRADER)

    @admin.action(description="Change role to operator", permissions=["change"])
    def make_operator(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._set_role(request, queryset, Role.OPERATOR)
