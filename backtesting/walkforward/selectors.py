"""Reads of walk-forwards: the list (never loading windows or results) and one with its windows."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.ownership import get_visible_or_404
from backtesting.walkforward.models import WalkForward, WalkForwardWindow


def walkforward_list(*, user: Any) -> QuerySet[WalkForward]:
    return (
        WalkForward.objects.visible_to(user).select_related("strategy_version__strategy").recent()
    )


def walkforward_get(*, user: Any, pk: Any, with_result: bool = False) -> WalkForward:
    """A walk-forward the user may see (own; any for operators); NotFoundError (404) otherwise."""
    qs = WalkForward.objects.select_related("strategy_version__strategy")
    if with_result:
        qs = qs.select_related("result")
    return get_visible_or_404(qs, user, pk=pk)


def walkforward_windows(*, walkforward: WalkForward) -> list[WalkForwardWindow]:
    """The stored windows, oldest first, without their curves (the summary carries the chart)."""
    rows = walkforward.windows.defer("oos_equity").order_by("index")
    for row in rows:
        row.walkforward = walkforward  # oos_objective reads its objective: no query per row
    return list(rows)
