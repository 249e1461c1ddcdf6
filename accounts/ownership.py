"""Ownership scoping, written once for every model a user creates.

The rule: only the owner and (OTP-verified) operators can see or change an object; a row
flagged shared is readable, never writable, by every authenticated user. Another user's
object must look exactly like a missing one: 404, never 403 with its contents.

Usage in an app::

    from accounts.ownership import OwnedQuerySet, get_visible_or_404, get_editable_or_404

    class StrategyQuerySet(OwnedQuerySet):
        owner_field = "owner"          # any lookup path to the user: "strategy__owner" works
        shared_field = "is_shared"     # None (default) when the model cannot be shared

    class Strategy(models.Model):
        owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
        is_shared = models.BooleanField(default=False)
        objects = StrategyQuerySet.as_manager()

    Strategy.objects.visible_to(request.user)                # list endpoints
    Strategy.objects.visible_to(user, include_shared=False)  # "my strategies" only
    Strategy.objects.editable_by(request.user)               # PATCH/DELETE/run scoping
    Strategy.objects.owned_by(user)                          # quota counts: never operator-wide
    strategy = get_visible_or_404(Strategy.objects, request.user, pk=pk)
    strategy = get_editable_or_404(Strategy.objects, request.user, pk=pk)

`get_editable_or_404` answers 404 (NotFoundError) for an object the user cannot see and
403 (PermissionDeniedError) only for one they can already read (a shared strategy): the
403 reveals nothing they do not know. Both raise tradeplatform.errors domain errors, so
the API envelope and the HTML handlers render them.

Operators see everything only with `accounts.access.has_operator_access(user)`, i.e.
after TOTP verification; an unverified operator is scoped like a trader.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self, TypeVar

from django.core.exceptions import ValidationError
from django.db import models

from accounts.access import has_operator_access
from tradeplatform.errors import NotFoundError, PermissionDeniedError

_M = TypeVar("_M", bound=models.Model)


class OwnedQuerySet(models.QuerySet[_M]):
    """QuerySet mixin: set `owner_field` (and `shared_field` when rows can be shared)."""

    owner_field: ClassVar[str] = "owner"
    shared_field: ClassVar[str | None] = None

    def owned_by(self, user: Any) -> Self:
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(**{self.owner_field: user})

    def visible_to(self, user: Any, *, include_shared: bool = True) -> Self:
        """Rows the user may read: their own, shared ones, everything for operators."""
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        if has_operator_access(user):
            return self.all()
        condition = models.Q(**{self.owner_field: user})
        if include_shared and self.shared_field:
            condition |= models.Q(**{self.shared_field: True})
        return self.filter(condition)

    def editable_by(self, user: Any) -> Self:
        """Rows the user may change, delete or run: their own; everything for operators."""
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        if has_operator_access(user):
            return self.all()
        return self.filter(**{self.owner_field: user})


def _scoped(queryset: models.QuerySet[_M] | models.Manager[_M]) -> OwnedQuerySet[_M]:
    qs = queryset.all()
    if not isinstance(qs, OwnedQuerySet):
        raise TypeError(f"{type(qs).__name__} is not an OwnedQuerySet")
    return qs


def get_visible_or_404(
    queryset: models.QuerySet[_M] | models.Manager[_M], user: Any, **lookup: Any
) -> _M:
    """The object matching `lookup` that `user` may read; NotFoundError (404) otherwise."""
    try:
        return _scoped(queryset).visible_to(user).get(**lookup)
    except (models.ObjectDoesNotExist, ValueError, ValidationError) as exc:
        # A malformed id is as absent as a foreign one.
        raise NotFoundError() from exc


def get_editable_or_404(
    queryset: models.QuerySet[_M] | models.Manager[_M], user: Any, **lookup: Any
) -> _M:
    """The object `user` may change; 403 if they can only read it, 404 if not even that."""
    scoped = _scoped(queryset)
    try:
        return scoped.editable_by(user).get(**lookup)
    except (models.ObjectDoesNotExist, ValueError, ValidationError):
        pass
    get_visible_or_404(scoped, user, **lookup)  # raises 404 when invisible
    raise PermissionDeniedError("This object is shared read-only; only its owner can change it.")
