"""Per-role quotas, with per-user overrides set by operators in the admin.

    from accounts.quotas import QuotaKind, quota_for, ensure_within_quota, QuotaExceededError

    quota_for(user, QuotaKind.STRATEGIES) -> int | None        # None = unlimited
    ensure_within_quota(user, QuotaKind.DAILY_BACKTESTS, current_count) -> None
    daily_window_start() -> datetime                          # count daily usage from here
    quota_usage(user) -> list[QuotaUsage]                      # used vs limit, for the account page

`current_count` is how many the user *already* has (running backtests, backtests created
since `daily_window_start()`, existing strategies); the call passes while one more fits.
Count with `Model.objects.owned_by(user)`, never `visible_to` (operators see everything).

Races: two requests can both count N and both create the N+1th. Callers serialise per
user by locking the user row inside their transaction before counting:

    with transaction.atomic():
        lock_user_for_quota(owner)
        ensure_within_quota(owner, QuotaKind.CONCURRENT_BACKTESTS, running_count)
        ... create ...

`QuotaExceededError` (code `quota_exceeded`) is 403 for the strategy count (waiting does
not help; delete something) and 429 for backtests, with Retry-After when the time the
quota frees up is known (the next UTC midnight for the daily quota).

Limits come from settings.QUOTAS[role][kind] (env QUOTA_<ROLE>_<KIND>, see settings.py);
a user's non-null `quota_<kind>` field overrides the role's value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import TextChoices
from django.utils import timezone

from accounts.models import Role, User
from tradeplatform.errors import RateLimitedError


class QuotaKind(TextChoices):
    STRATEGIES = "strategies", "Strategies"
    CONCURRENT_BACKTESTS = "concurrent_backtests", "Concurrent backtests"
    DAILY_BACKTESTS = "daily_backtests", "Backtests per day"


class QuotaExceededError(RateLimitedError):
    code = "quota_exceeded"
    default_message = "You have reached your quota."

    def __init__(
        self, message: str, *, status_code: int, retry_after: int | None, details: Any
    ) -> None:
        super().__init__(message, retry_after=retry_after, details=details)
        self.status_code = status_code


def daily_window_start(now: datetime | None = None) -> datetime:
    """Start of the current UTC day: the daily quota resets at midnight UTC for everyone."""
    now = now or timezone.now()
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def quota_for(user: Any, kind: QuotaKind | str) -> int | None:
    """The user's limit for `kind`; None means unlimited (superusers, or configured so)."""
    kind = QuotaKind(kind)
    if getattr(user, "is_superuser", False):
        return None
    override = getattr(user, f"quota_{kind.value}", None)
    if override is not None:
        return int(override)
    role = Role(getattr(user, "role", Role.VIEWER))
    return settings.QUOTAS[role.value][kind.value]


def ensure_within_quota(user: Any, kind: QuotaKind | str, current_count: int) -> None:
    """Raise QuotaExceededError unless the user may create one more `kind`."""
    kind = QuotaKind(kind)
    limit = quota_for(user, kind)
    if limit is None or current_count < limit:
        return
    details = {"quota": kind.value, "limit": limit, "current": current_count}
    if kind == QuotaKind.STRATEGIES:
        raise QuotaExceededError(
            f"You can have at most {limit} strategies; delete one to create another.",
            status_code=403,
            retry_after=None,
            details=details,
        )
    if kind == QuotaKind.DAILY_BACKTESTS:
        reset = daily_window_start() + timedelta(days=1)
        wait = max(1, math.ceil((reset - timezone.now()).total_seconds()))
        raise QuotaExceededError(
            f"You can run {limit} backtests a day; the quota resets at midnight UTC.",
            status_code=429,
            retry_after=wait,
            details=details,
        )
    raise QuotaExceededError(
        f"You can run {limit} backtests at the same time; wait for one to finish.",
        status_code=429,
        retry_after=settings.QUOTA_CONCURRENT_RETRY_AFTER_SECONDS,
        details=details,
    )


def lock_user_for_quota(user: Any) -> None:
    """Serialise quota checks of one user; call inside transaction.atomic()."""
    list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))


@dataclass(frozen=True)
class QuotaUsage:
    kind: QuotaKind
    used: int
    limit: int | None  # None = unlimited

    @property
    def label(self) -> str:
        return str(self.kind.label)


def quota_usage(user: Any) -> list[QuotaUsage]:
    """How much of each quota the user has used, counted as the services count it.

    Through the user's reverse relations: accounts sits below strategies and backtesting
    (import-linter's layers) and so never imports their models.
    """
    counts = {
        QuotaKind.STRATEGIES: user.strategies.active().count(),
        QuotaKind.CONCURRENT_BACKTESTS: user.backtests.active().count(),
        QuotaKind.DAILY_BACKTESTS: user.backtests.filter(
            queued_at__gte=daily_window_start()
        ).count(),
    }
    return [QuotaUsage(kind, used, quota_for(user, kind)) for kind, used in counts.items()]
