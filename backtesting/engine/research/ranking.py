"""Ranking the rows of a parameter sweep by an objective.

A row is a metrics dict as ``metrics.compute_statistics`` returns it (NaN/inf already None) or
the raw floats. Conventions (docs/metrics.md, "Research statistics"):

- Objectives name the engine's statistics keys; ``return_over_max_drawdown`` is derived:
  ``total_return / |max_drawdown|`` (undefined without a drawdown).
- A row whose objective is missing, None, NaN, +-inf, a bool or not a number is "undefined":
  it ranks after every defined row, whatever the direction, so it is never the best (an
  infinite profit factor - wins and no losses - says too little to win a sweep).
- Rows with fewer than ``min_trades`` trades (``n_trades``; missing counts as 0) are left out.
- Ties, and the undefined rows among themselves, keep their input order (a stable sort), so
  the caller's order - the combination index - breaks them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

OBJECTIVES: Final[dict[str, str]] = {
    "sharpe": "sharpe_ratio",
    "sortino": "sortino_ratio",
    "calmar": "calmar_ratio",
    "cagr": "cagr",
    "total_return": "total_return",
    "profit_factor": "profit_factor",
    "return_over_max_drawdown": "return_over_max_drawdown",
}
DIRECTIONS: Final = ("max", "min")

__all__ = ["DIRECTIONS", "OBJECTIVES", "objective_value", "rank_rows"]


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def objective_value(row: Mapping[str, Any], objective: str) -> float | None:
    """The objective of one row as a finite float, or None when it is undefined.

    ``objective`` is a key of OBJECTIVES (``sharpe``) or the statistic's own key
    (``sharpe_ratio``). Raises ValueError for any other name.
    """
    key = OBJECTIVES.get(objective, objective)
    if key not in OBJECTIVES.values():
        raise ValueError(f"unknown objective {objective!r}; one of {', '.join(OBJECTIVES)}")
    if key == "return_over_max_drawdown":
        total, drawdown = _finite(row.get("total_return")), _finite(row.get("max_drawdown"))
        if total is None or drawdown is None or drawdown == 0.0:
            return None
        return total / abs(drawdown)
    return _finite(row.get(key))


def _trades(row: Mapping[str, Any]) -> int:
    n = row.get("n_trades")
    return int(n) if isinstance(n, int | float) and not isinstance(n, bool) else 0


def rank_rows(
    rows: Sequence[Mapping[str, Any]],
    objective: str,
    *,
    direction: str = "max",
    min_trades: int = 0,
) -> list[int]:
    """Indices into ``rows``, best first, of the rows with at least ``min_trades`` trades.

    Defined objectives first, ordered by ``direction`` ("max" or "min"), then the undefined
    ones; ties keep input order. Raises ValueError for an unknown objective or direction.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'max' or 'min', got {direction!r}")
    sign = -1.0 if direction == "max" else 1.0
    keyed: list[tuple[int, float, int]] = []
    for index, row in enumerate(rows):
        if _trades(row) < min_trades:
            continue
        value = objective_value(row, objective)
        keyed.append((0, sign * value, index) if value is not None else (1, 0.0, index))
    # -0.0 and 0.0 compare equal, so ties stay ties under either sign.
    keyed.sort()
    return [index for _, _, index in keyed]
