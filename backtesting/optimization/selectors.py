"""Reads of sweeps: lists, one sweep, its results sorted by any headline metric, the best so
far, the points the heatmap and stability charts draw, and the results as CSV lines."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import F, FloatField, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from accounts.ownership import get_visible_or_404
from backtesting.optimization.models import Optimization, OptimizationResult, ResultStatus
from backtesting.sandbox.compact import HEADLINE_METRICS

RESULT_SORTS = ("objective", "index", *HEADLINE_METRICS)


def optimization_list(*, user: Any) -> QuerySet[Optimization]:
    return (
        Optimization.objects.visible_to(user).select_related("strategy_version__strategy").recent()
    )


def optimization_get(*, user: Any, pk: Any) -> Optimization:
    """A sweep the user may see (own; any for operators); NotFoundError (404) otherwise."""
    return get_visible_or_404(
        Optimization.objects.select_related("strategy_version__strategy"), user, pk=pk
    )


def optimization_results(
    *, optimization: Optimization, sort: str = "objective", descending: bool | None = None
) -> QuerySet[OptimizationResult]:
    """Its rows ordered by `sort` (objective, index or a headline metric); undefined values
    last. `descending` defaults to the sweep's direction (best first)."""
    if descending is None:
        descending = optimization.direction == "max"
    rows = OptimizationResult.objects.filter(optimization=optimization)
    if sort == "index":
        key: Any = F("index")
    elif sort == "objective":
        key = F("objective")
    else:
        key = Cast(KT(f"metrics__{sort}"), FloatField())
    order = key.desc(nulls_last=True) if descending else key.asc(nulls_last=True)
    return rows.order_by(order, "index")


def optimization_best_so_far(*, optimization: Optimization) -> OptimizationResult | None:
    """The best stored combination with enough trades (ranked as the sweep's end ranks them)."""
    rows = optimization_results(optimization=optimization).filter(
        status=ResultStatus.OK, objective__isnull=False, n_trades__gte=optimization.min_trades
    )
    return rows.first()


def optimization_counts(*, optimization: Optimization) -> dict[str, int]:
    rows = OptimizationResult.objects.filter(optimization=optimization)
    return {
        "stored": rows.count(),
        "failed": rows.filter(status=ResultStatus.FAILED).count(),
    }


def optimization_points(*, optimization: Optimization) -> dict[str, Any]:
    """{"names", "points": [[index, value per name..., objective or None, n_trades]]} of the
    rows that ran: what the page's heatmap and stability view draw (a few hundred KB at most)."""
    names = optimization.swept_names
    rows = (
        OptimizationResult.objects.filter(optimization=optimization, status=ResultStatus.OK)
        .order_by("index")
        .values_list("index", "parameters", "objective", "n_trades")
    )
    points = [
        [index, *(params.get(name) for name in names), objective, n_trades]
        for index, params, objective, n_trades in rows
    ]
    return {"names": names, "points": points}


def results_csv_rows(
    optimization: Optimization, rows: Iterable[OptimizationResult]
) -> Iterator[str]:
    """CSV lines (header first): index, status, objective, trades, the swept parameters, the
    headline metrics and the error, streamed row by row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    names = optimization.swept_names

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    # n_trades has its own column up front; a metric column of the same name would repeat it.
    metric_keys = [key for key in HEADLINE_METRICS if key != "n_trades"]
    writer.writerow(["index", "status", "objective", "n_trades", *names, *metric_keys, "error"])
    yield flush()
    for row in rows:
        params = [_cell(row.parameters.get(name)) for name in names]
        metrics = [row.metrics.get(key) for key in metric_keys]
        writer.writerow(
            [
                row.index,
                row.status,
                row.objective,
                row.n_trades,
                *params,
                *metrics,
                _cell(row.error_message),
            ]
        )
        yield flush()


def _cell(value: Any) -> Any:
    # A cell starting with = + - @ is a formula in spreadsheets; text values are the user's.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
