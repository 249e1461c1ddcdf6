"""Two to four finished backtests side by side: the metrics table and the chart series.

The table reads every number through the metric catalogue (backtesting.metric_display), so
it is formatted exactly as on the detail page, and marks per row the best value by the
metric's own direction (higher or lower is better; ties are all marked; a neutral metric,
such as the number of trades or beta, marks none). Equity curves are rebased to 100 at each
run's first point, so runs with different starting cash read on one scale; they and the
drawdowns are down-sampled like the detail page's (backtesting.chart_series).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from backtesting.chart_data import curve_arrays
from backtesting.chart_series import ChartPoint, chart_series
from backtesting.metric_display import METRIC_GROUPS, Better, MetricSpec, format_metric
from backtesting.models import Backtest

MIN_COMPARED = 2
MAX_COMPARED = 4
REBASED_START = 100.0


@dataclass(frozen=True)
class CompareCell:
    display: str
    is_best: bool


@dataclass(frozen=True)
class CompareRow:
    spec: MetricSpec
    cells: tuple[CompareCell, ...]


@dataclass(frozen=True)
class CompareGroup:
    title: str
    rows: tuple[CompareRow, ...]


def best_columns(values: list[Any], better: Better) -> set[int]:
    """Indices of the best finite value(s) (all of a tie); none for a neutral metric, or when
    fewer than two values can be compared."""
    finite = {i: float(v) for i, v in enumerate(values) if _is_number(v) and math.isfinite(v)}
    if better is None or len(finite) < 2:
        return set()
    best = max(finite.values()) if better == "higher" else min(finite.values())
    return {i for i, v in finite.items() if v == best}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def compare_groups(metrics: list[dict[str, Any]], currencies: list[str]) -> list[CompareGroup]:
    """The catalogue's groups with one cell per backtest; rows no backtest has are left out.

    Amounts of money are only ranked between runs that started with the same equity: $237k
    from $250k is not "better" than $9k from $10k (the percentages above say which is).
    """
    same_start = len({repr(m.get("equity_start")) for m in metrics}) == 1
    groups = []
    for group in METRIC_GROUPS:
        rows = []
        for spec in group.specs:
            values = [m.get(spec.key) for m in metrics]
            if all(v is None for v in values):
                continue
            rankable = same_start or spec.kind != "money"
            best = best_columns(values, spec.better) if rankable else set()
            cells = tuple(
                CompareCell(format_metric(spec.key, v, cur), i in best)
                for i, (v, cur) in enumerate(zip(values, currencies, strict=True))
            )
            rows.append(CompareRow(spec, cells))
        if rows:
            groups.append(CompareGroup(group.title, tuple(rows)))
    return groups


def compare_series(backtest: Backtest) -> dict[str, list[ChartPoint]]:
    """{"equity": rebased to 100 at the first point, "drawdown": fractions}, down-sampled."""
    curve = curve_arrays(backtest.result_or_none)
    if curve is None:
        return {"equity": [], "drawdown": []}
    stamps, equity, drawdown = curve["timestamps"], curve["equity"], curve["drawdown"]
    finite = equity[np.isfinite(equity)]
    # Rebased on the first finite equity: a run that starts with 10,000 and one with 1,000,000
    # then share one axis, and "100 -> 120" reads as +20 %.
    if len(finite) == 0 or finite[0] <= 0:
        rebased = np.full_like(equity, np.nan)
    else:
        rebased = equity / finite[0] * REBASED_START
    return {
        "equity": chart_series(stamps[: len(rebased)], rebased),
        "drawdown": chart_series(stamps[: len(drawdown)], drawdown),
    }
