"""What the run page shows: the summary tables and sentences of a finished run, formatted."""

from __future__ import annotations

from typing import Any

from backtesting.robustness.models import RobustnessKind, RobustnessRun

METHOD_LABELS = {
    "shuffle": "Trade shuffle (same trades, new order)",
    "bootstrap": "Trade bootstrap (trades drawn with replacement)",
    "block_bootstrap": "Stationary block bootstrap of bar returns",
}
DISTRIBUTIONS = (
    ("final_return", "Final return", "percent"),
    ("max_drawdown", "Max drawdown", "percent"),
    ("sharpe", "Sharpe (per step)", "number"),
)
PERCENTILES = ("p5", "p25", "p50", "p75", "p95")


def fmt(value: float | None, how: str) -> str:
    if value is None:
        return "—"
    if how == "percent":
        return f"{value * 100:,.2f} %"
    return f"{value:,.3f}"


def result_context(run: RobustnessRun) -> dict[str, Any]:
    """Template context for `run`: empty until it succeeded."""
    result = run.result_or_none
    context: dict[str, Any] = {"parameters": _parameters(run)}
    if result is None:
        return context
    data = result.data
    context["result"] = data
    if run.kind == RobustnessKind.MONTE_CARLO:
        context["summary_rows"] = [
            {
                "label": label,
                "actual": fmt(data["actual"][key], how),
                "values": [
                    fmt(data["distributions"][key]["percentiles"][p], how) for p in PERCENTILES
                ],
            }
            for key, label, how in DISTRIBUTIONS
        ]
        context["probability_of_loss"] = fmt(data["probability_of_loss"], "percent")
    elif run.kind == RobustnessKind.RANDOM_ENTRY:
        context["actual_return"] = fmt(data["actual_return"], "percent")
        context["beaten_share"] = fmt(data["beaten_share"], "percent")
        context["random_rows"] = [
            (p.upper(), fmt(data["random_percentiles"][p], "percent")) for p in PERCENTILES
        ]
    return context


def _parameters(run: RobustnessRun) -> list[tuple[str, str]]:
    p = run.parameters
    rows = []
    if "method" in p:
        rows.append(("Method", METHOD_LABELS.get(p["method"], p["method"])))
    labels = {
        "n_runs": "Runs",
        "mean_block_length": "Mean block length (bars)",
        "n_strategies": "Random strategies",
        "n_checks": "Truncation points",
        "seed": "Seed",
    }
    rows += [
        (label, f"{p[k]:,}" if isinstance(p[k], int) else str(p[k]))
        for k, label in labels.items()
        if k in p
    ]
    return rows
