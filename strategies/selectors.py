"""Reads of the strategies app that are more than one QuerySet call: scoped lookups, diffs."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from accounts.ownership import get_editable_or_404, get_visible_or_404
from strategies.models import Strategy, StrategyVersion
from tradeplatform.errors import DomainValidationError, NotFoundError


def strategy_list(*, user: Any, search: str = "") -> QuerySet[Strategy]:
    """Active strategies the user can read (own, shared, all for operators), newest first.

    `search` keeps those whose name or description contains it (case-insensitive).
    """
    strategies = Strategy.objects.active().with_latest_version_number().visible_to(user)
    if search:
        strategies = strategies.filter(Q(name__icontains=search) | Q(description__icontains=search))
    return strategies.select_related("owner").order_by("-updated_at", "-id")


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
    # Line numbers in the old and the new version (None where the line is not in that one).
    old_line: int | None = None
    new_line: int | None = None


@dataclass(frozen=True, slots=True)
class VersionDiff:
    from_number: int
    to_number: int
    unified: str
    lines: tuple[DiffLine, ...]

    @property
    def is_empty(self) -> bool:
        return not self.unified

    @property
    def added_count(self) -> int:
        return sum(1 for line in self.lines if line.kind == "added")

    @property
    def removed_count(self) -> int:
        return sum(1 for line in self.lines if line.kind == "removed")


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
        lines=_numbered(_classify(index, line.rstrip("\n")) for index, line in enumerate(raw)),
    )


_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def _numbered(lines: Iterable[DiffLine]) -> tuple[DiffLine, ...]:
    """Give each diff line its number in the old and the new version, read off the hunks."""
    numbered = []
    old = new = 0
    for line in lines:
        hunk = _HUNK.match(line.text) if line.kind == "hunk" else None
        if hunk:
            old, new = int(hunk[1]), int(hunk[2])
        elif line.kind == "removed":
            line, old = DiffLine(line.kind, line.text, old_line=old), old + 1
        elif line.kind == "added":
            line, new = DiffLine(line.kind, line.text, new_line=new), new + 1
        elif line.kind == "context":
            line, old, new = DiffLine(line.kind, line.text, old, new), old + 1, new + 1
        numbered.append(line)
    return tuple(numbered)


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
