"""Strategies and their immutable versions.

A Strategy is the named, owned container; every change of its code makes a new
StrategyVersion (1, 2, ...). Versions are never edited, so a backtest that pins one
(backtesting's FK with on_delete=PROTECT) can always be reproduced. Deleting a
strategy archives it (see `strategy_delete`): its versions stay for those backtests.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.ownership import OwnedQuerySet


def code_sha256(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


class StrategyQuerySet(OwnedQuerySet["Strategy"]):
    owner_field = "owner"
    shared_field = "is_shared"

    def active(self) -> StrategyQuerySet:
        """Not archived: what lists, pages and the API show."""
        return self.filter(archived_at__isnull=True)

    def with_latest_version_number(self) -> StrategyQuerySet:
        return self.annotate(latest_version_number=models.Max("versions__number"))


class Strategy(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="strategies"
    )
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, max_length=2000)
    # Shared strategies are readable (and clonable) by every signed-in user, editable only
    # by the owner and operators.
    is_shared = models.BooleanField(default=False)
    cloned_from = models.ForeignKey(
        "StrategyVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="clones",
    )
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = StrategyQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "strategies"  # the admin would say "Strategys"
        ordering = ["-updated_at", "-id"]
        constraints = [
            # Archived strategies free their name: they no longer appear anywhere.
            models.UniqueConstraint(
                "owner",
                "name",
                condition=Q(archived_at__isnull=True),
                name="strategies_strategy_owner_name_unique_active",
            ),
        ]
        indexes = [models.Index(fields=["owner", "-updated_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    def latest_version(self) -> StrategyVersion | None:
        return self.versions.order_by("-number").first()


class ImmutableVersionError(Exception):
    """A StrategyVersion was about to be changed in place; make a new version instead."""


class StrategyVersionQuerySet(models.QuerySet["StrategyVersion"]):
    def update(self, **kwargs: Any) -> int:
        raise ImmutableVersionError("strategy versions are immutable")


class StrategyVersion(models.Model):
    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    code = models.TextField()
    code_sha256 = models.CharField(max_length=64)
    # [ParameterSpec.to_dict(), ...] as extracted by the validator when this version was saved.
    parameters = models.JSONField(default=list, blank=True)
    class_name = models.CharField(max_length=200)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="authored_strategy_versions",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = StrategyVersionQuerySet.as_manager()

    class Meta:
        ordering = ["strategy", "-number"]
        constraints = [
            models.UniqueConstraint(
                "strategy", "number", name="strategies_version_strategy_number_unique"
            ),
            models.CheckConstraint(
                condition=Q(number__gte=1), name="strategies_version_number_gte_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.strategy_id} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Integrity, not a business rule: a pinned backtest must find the exact code it ran.
        if not self._state.adding:
            raise ImmutableVersionError("strategy versions are immutable; create a new version")
        super().save(*args, **kwargs)
