"""What the walk-forward pages show: the summary as cards, the windows as table rows, the
efficiency in one sentence, and form errors as lines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import QueryDict

from backtesting.engine.research.ranking import OBJECTIVES
from backtesting.metric_display import format_metric, metric_tone
from backtesting.optimization.forms import OBJECTIVE_LABELS
from backtesting.optimization.models import Optimization
from backtesting.walkforward import selectors
from backtesting.walkforward.models import WalkForward
from tradeplatform.errors import DomainError

SUMMARY_CARDS = (
    ("total_return", "Out-of-sample return"),
    ("cagr", "CAGR"),
    ("sharpe_ratio", "Sharpe"),
    ("max_drawdown", "Max drawdown"),
    ("buy_and_hold_return", "Buy and hold"),
)


@dataclass(frozen=True)
class Card:
    label: str
    value: str
    tone: str


@dataclass(frozen=True)
class WindowRow:
    index: int
    is_range: str
    oos_range: str
    parameters: str
    is_objective: str
    oos_objective: str
    oos_return: str
    oos_tone: str


def detail_context(walkforward: WalkForward) -> dict[str, Any]:
    result = walkforward.result_or_none
    summary = result.summary if result else {}
    return {
        "windows": [
            _row(walkforward, w) for w in selectors.walkforward_windows(walkforward=walkforward)
        ],
        "cards": [_card(key, label, summary.get(key)) for key, label in SUMMARY_CARDS]
        if result
        else [],
        "summary": summary,
        "curve": result.curve if result else None,
        "efficiency": efficiency_sentence(summary) if result else "",
        "objective_label": OBJECTIVE_LABELS.get(walkforward.objective, walkforward.objective),
    }


def _card(key: str, label: str, value: Any) -> Card:
    metric = "total_return" if key == "buy_and_hold_return" else key
    return Card(label, format_metric(metric, value), metric_tone(metric, value))


def _objective(walkforward: WalkForward, value: Any) -> str:
    return format_metric(OBJECTIVES.get(walkforward.objective, walkforward.objective), value)


def _row(walkforward: WalkForward, window: Any) -> WindowRow:
    chosen = ", ".join(f"{k} = {v}" for k, v in window.parameters.items())
    oos_return = window.oos_metrics.get("total_return")
    return WindowRow(
        index=window.index,
        is_range=f"{window.is_start:%Y-%m-%d} to {window.is_end:%Y-%m-%d}",
        oos_range=f"{window.oos_start:%Y-%m-%d} to {window.oos_end:%Y-%m-%d}",
        parameters=chosen or "none qualified (stayed out)",
        is_objective=_objective(walkforward, window.is_objective),
        oos_objective=_objective(walkforward, window.oos_objective),
        oos_return=format_metric("total_return", oos_return),
        oos_tone=metric_tone("total_return", oos_return),
    )


def efficiency_sentence(summary: dict[str, Any]) -> str:
    """The walk-forward efficiency and what it means, in one sentence."""
    efficiency = summary.get("efficiency")
    if efficiency is None:
        return (
            "Walk-forward efficiency is undefined here: the in-sample winners lost money on "
            "average, so there was no in-sample pace to keep."
        )
    return (
        f"Walk-forward efficiency {efficiency:.2f}: out of sample the chosen parameters earned "
        f"{efficiency:.0%} of the annualised return they showed in sample "
        "(near 1 the edge held up; near 0 or below it was mostly fitted noise)."
    )


def sweep_initial(sweep: Optimization) -> dict[str, Any]:
    """The search fields of a sweep, to walk its space forward (TPE becomes a grid)."""
    space = sweep.space or {}
    random = space.get("kind") == "random"
    return {
        "kind": "random" if random else "grid",
        "samples": space.get("samples") if random else None,
        "seed": space.get("seed") if random else None,
        "constraints": "\n".join(sweep.constraints),
        "objective": sweep.objective,
        "direction": sweep.direction,
        "min_trades": sweep.min_trades,
    }


def sweep_ranges(sweep: Optimization | None) -> QueryDict | None:
    """The sweep's ranges in the form's field names, for parameter_rows (None: no sweep)."""
    if sweep is None:
        return None
    given = QueryDict(mutable=True)
    for name, value in sweep.parameters.items():
        given[f"value_{name}"] = str(value)
    for name, bounds in (sweep.space.get("parameters") or {}).items():
        if isinstance(bounds, dict) and "min" in bounds:
            given[f"sweep_{name}"] = "on"
            for key in ("min", "max", "step"):
                given[f"{key}_{name}"] = str(bounds.get(key, ""))
    return given


def worded(exc: DomainError) -> list[str]:
    """Each problem of a refused submit as a line: the field, then what is wrong."""
    details = exc.details if isinstance(exc.details, dict) else {}
    lines: list[str] = []
    for field, problem in details.items():
        if isinstance(problem, dict):
            lines.extend(f"{field} {key}: {_said(value)}" for key, value in problem.items())
        else:
            lines.append(f"{field}: {_said(problem)}")
    return lines or [exc.message]


def _said(problem: Any) -> str:
    if isinstance(problem, dict) and "message" in problem:
        return str(problem["message"])
    return "; ".join(str(p) for p in problem) if isinstance(problem, list) else str(problem)
