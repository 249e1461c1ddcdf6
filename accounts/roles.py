"""Roles map onto Django groups so the admin shows and manages what each role may do.

The role field is the source of truth; `sync_user_groups(user)` puts the user in exactly
their role's group (accounts.services calls it on every role change), and
`sync_role_groups()` (re)creates the groups and their permissions. It runs from the data
migration and again after every `migrate`, because the strategies and backtesting apps add
their permissions after ours.
"""

from __future__ import annotations

from typing import Any

from django.db import models


class Role(models.TextChoices):
    """A user's role (User.role; accounts.models re-exports it)."""

    VIEWER = "viewer", "Viewer"
    TRADER = "trader", "Trader"
    OPERATOR = "operator", "Operator"


ROLE_GROUPS: dict[str, str] = {
    Role.VIEWER: "Viewers",
    Role.TRADER: "Traders",
    Role.OPERATOR: "Operators",
}
_ALL = ("view", "add", "change", "delete")
# app label -> actions granted on every model of that app.
ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    Role.VIEWER: {"strategies": ("view",), "backtesting": ("view",)},
    Role.TRADER: {"strategies": _ALL, "backtesting": _ALL},
    Role.OPERATOR: {
        "strategies": _ALL,
        "backtesting": _ALL,
        "accounts": ("view", "change"),  # role changes go through admin actions, not delete
        "otp_totp": ("view", "delete"),  # reset a lost authenticator
        "token_blacklist": ("view",),
    },
}


# Market data is managed by operators only; traders read it. (Model names, lower case.)
MARKET_DATA_MODELS: dict[str, tuple[str, ...]] = {
    "backtesting": ("instrument", "bar", "seriesversion", "dataset", "marketdata"),
}


def _codenames(permission_model: Any, role: str) -> Any:
    from django.db.models import Q

    query = Q(pk__in=[])
    for app_label, actions in ROLE_PERMISSIONS[role].items():
        for action in actions:
            query |= Q(content_type__app_label=app_label, codename__startswith=f"{action}_")
    if role != Role.OPERATOR:
        for app_label, models in MARKET_DATA_MODELS.items():
            writes = Q(content_type__app_label=app_label, content_type__model__in=models)
            query &= ~(writes & ~Q(codename__startswith="view_"))
    return permission_model.objects.filter(query)


def sync_role_groups(group_model: Any = None, permission_model: Any = None) -> None:
    """Create the role groups and set their permissions (idempotent)."""
    if group_model is None or permission_model is None:
        from django.contrib.auth.models import Group, Permission

        group_model, permission_model = Group, Permission
    for role, name in ROLE_GROUPS.items():
        group, _ = group_model.objects.get_or_create(name=name)
        group.permissions.set(_codenames(permission_model, role))


def sync_user_groups(user: Any) -> None:
    """Put the user in their role's group and in no other role group."""
    from django.contrib.auth.models import Group

    role_groups = Group.objects.filter(name__in=ROLE_GROUPS.values())
    user.groups.remove(*role_groups.exclude(name=ROLE_GROUPS[user.role]))
    group, _ = Group.objects.get_or_create(name=ROLE_GROUPS[user.role])
    user.groups.add(group)


def sync_role_groups_after_migrate(sender: Any, **kwargs: Any) -> None:
    sync_role_groups()
