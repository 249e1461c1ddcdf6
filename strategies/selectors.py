"""Reads of the strategies app that are more than one QuerySet call: scoped lookups, diffs."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from accounts.ownership import get_editable_or_404, get_visible_or_404
from strategies.models import Strategy, StrategyVersion
from tradeplatform.errors import DomainValidationError, NotFoundError


def strategy_list(*, user: Any) -> QuerySet[Strategy]:
    """Active strategies the user can read (own, shared, all for operators), newest first."""
    return (
        Strategy.objects.active()
        .with_latest_version_number()
        .visible_to(user)
        .select_related("owner")
        .order_by("-updated_at", "-id")
    )


def strategy_get(*, user: Any, pk: Any) -> Strategy:
    """An active strategy the user can read; NotFoundError (404) otherwise."""
    return get_visible_or_404(Strategy.objects.active().select_related("owner"), user, pk=pk)


def strategy_get_editable(*, user: Any, pk: Any) -> Strategy:
    """An active strategy the user can change; 404 if invisible, 403 if only readable."""
    return get_editable_or_404(Strategy.objects.active().select_related("owner"), user, pk=pk)


def strategy_version_get(*, strategy: Strategy, number: int) -> StrategyVersion:
    try:
        return strategy.versions.select_related("author").get(number=number)
    except StrategyVersion.DoesNotExist as exc:
        raise NotFoundError("This strategy has no such version.") from exc


def strategy_version_latest(*, strategy: Strategy) -> StrategyVersion:
    version = strategy.versions.select_related("author").order_by("-number").first()
    if version is None:  # pragma: no cover - every strategy is created with version 1
        raise NotFoundError("This strategy has no versions.")
    return version


@dataclass(frozen=True, slots=True)
class DiffLine:
    kind: str  # "added" | "removed" | "context" | "hunk" | "header"
    text: str


@dataclass(frozen=True, slots=True)
class VersionDiff:
    from_number: int
    to_number: int
    unified: str
    lines: tuple[DiffLine, ...]

    @property
    def is_empty(self) -> bool:
        return not self.unified


def strategy_version_diff(
    *, strategy: Strategy, number: int, against: int | None = None
) -> VersionDiff:
    """Unified diff from version `against` (default: the previous one) to version `number`.

    Raises NotFoundError for a missing version and DomainValidationError when version 1
    is diffed without naming what to diff it against.
    """
    if against is None:
        if number <= 1:
            raise DomainValidationError(
                details={"against": ["Name the version to compare version 1 with."]}
            )
        against = number - 1
    new = strategy_version_get(strategy=strategy, number=number)
    old = strategy_version_get(strategy=strategy, number=against)
    return _diff(old, new)


def _diff(old: StrategyVersion, new: StrategyVersion) -> VersionDiff:
    raw = list(
        difflib.unified_diff(
            old.code.splitlines(keepends=True),
            new.code.splitlines(keepends=True),
            fromfile=f"v{old.number}",
            tofile=f"v{new.number}",
        )
    )
    # A last line without "\n" would glue itself to the next diff line; end every line.
    unified = "".join(line if line.endswith("\n") else line + "\n" for line in raw)
    return VersionDiff(
        from_number=old.number,
        to_number=new.number,
        unified=unified,
        lines=tuple(_classify(index, line.rstrip("\n")) for index, line in enumerate(raw)),
    )


def _classify(index: int, line: str) -> DiffLine:
    # Only the first two lines are file headers: a removed line "-- x" also starts "---".
    if index < 2:
        return DiffLine("header", line)
    if line.startswith("@@"):
        return DiffLine("hunk", line)
    if line.startswith("+"):
        return DiffLine("added", line)
    if line.startswith("-"):
        return DiffLine("removed", line)
    return DiffLine("context", line)
