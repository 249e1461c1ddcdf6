"""The new-sweep page's form: initial values from the strategy's declared parameters (or a
backtest being swept), and the POST parsed into an OptimizationInput. The rules stay in
optimization_submit; this only reads text fields into typed values."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from django.http import QueryDict

from backtesting.engine.research.ranking import OBJECTIVES
from backtesting.models import Backtest
from backtesting.optimization.services import OptimizationInput
from strategies.models import StrategyVersion
from strategies.paramspec import ParameterSpace, ParameterSpec
from tradeplatform.errors import DomainValidationError

AXIS_POINTS = 10  # a prefilled range has about this many values per parameter
OBJECTIVE_LABELS = {
    "sharpe": "Sharpe ratio",
    "sortino": "Sortino ratio",
    "calmar": "Calmar ratio",
    "cagr": "CAGR",
    "total_return": "Total return",
    "profit_factor": "Profit factor",
    "return_over_max_drawdown": "Return over max drawdown",
}


@dataclass(frozen=True)
class ParameterRow:
    name: str
    type: str
    description: str
    bounds: str
    swept: bool
    low: Any
    high: Any
    step: Any
    value: Any


def parameter_rows(
    version: StrategyVersion, given: QueryDict | None, fixed: dict[str, Any]
) -> list[ParameterRow]:
    """One row per declared parameter: numeric ones can be swept (the first two are, at first)."""
    rows = []
    numeric = 0
    for spec in ParameterSpace.from_dicts(version.parameters).specs:
        sweepable = spec.type in ("int", "float") and spec.choices is None
        low, high, step = _prefilled_range(spec) if sweepable else (None, None, None)
        swept = sweepable and numeric < 2
        numeric += sweepable
        if given is not None:
            swept = sweepable and given.get(f"sweep_{spec.name}") == "on"
            low, high, step = (given.get(f"{k}_{spec.name}", "") for k in ("min", "max", "step"))
        value = (
            given.get(f"value_{spec.name}", "")
            if given is not None
            else fixed.get(spec.name, spec.default)
        )
        rows.append(
            ParameterRow(
                spec.name, spec.type, spec.description, _bounds(spec), swept, low, high, step, value
            )
        )
    return rows


def _prefilled_range(spec: ParameterSpec) -> tuple[Any, Any, Any]:
    low: Any = spec.min if spec.min is not None else spec.default
    high: Any = spec.max if spec.max is not None else (spec.default or 1) * 2  # type: ignore[operator]
    step: Any = (high - low) / (AXIS_POINTS - 1) if high > low else 1
    if spec.type == "int":
        step = max(int(spec.step or 1), round(step))
        high = low + step * ((high - low) // step)
    else:
        # A round step (0.5, not 0.3888…), so the grid's values read as people write them.
        step = nice_step(float(step), float(spec.step) if spec.step else None)
        high = float(f"{low + step * math.floor((high - low) / step + 1e-9):.12g}")
    return low, high, step


def nice_step(raw: float, declared: float | None = None) -> float:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten at least `raw`, and a whole
    multiple of the declared step when there is one."""
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if raw <= m * magnitude * (1 + 1e-9))
    if declared:
        step = max(declared, round(step / declared) * declared)
    return float(f"{step:.12g}")


def _bounds(spec: ParameterSpec) -> str:
    if spec.min is None and spec.max is None:
        return ""
    low = "…" if spec.min is None else spec.min
    high = "…" if spec.max is None else spec.max
    return f"declared {low} to {high}"


def initial_from_backtest(backtest: Backtest | None, symbols: list[str]) -> dict[str, Any]:
    """The run fields of the form: a backtest's, else the first runnable instrument, 1d."""
    if backtest is not None:
        return {
            "instruments": ", ".join(backtest.symbols),
            "timeframe": backtest.timeframe,
            "start": backtest.start.date().isoformat(),
            "end": backtest.end.date().isoformat(),
            "initial_cash": backtest.settings.get("initial_cash", 10_000),
            "settings": backtest.settings,
            "parameters": backtest.parameters,
        }
    return {
        "instruments": symbols[0] if symbols else "",
        "timeframe": "1d",
        "start": "",
        "end": "",
        "initial_cash": 10_000,
        "settings": {},
        "parameters": {},
    }


def sweep_input(
    post: QueryDict, version: StrategyVersion, base_settings: dict[str, Any]
) -> OptimizationInput:
    """The POSTed form as a sweep request; DomainValidationError for a value that is not one."""
    problems: dict[str, str] = {}
    ranges: dict[str, Any] = {}
    fixed: dict[str, Any] = {}
    for spec in ParameterSpace.from_dicts(version.parameters).specs:
        try:
            if post.get(f"sweep_{spec.name}") == "on":
                ranges[spec.name] = {
                    k: _number(post.get(f"{k}_{spec.name}")) for k in ("min", "max", "step")
                }
            elif post.get(f"value_{spec.name}", "") != "":
                fixed[spec.name] = _typed(spec, str(post.get(f"value_{spec.name}")))
        except ValueError:
            problems[spec.name] = "Give numbers."
    kind = post.get("kind", "grid")
    space: dict[str, Any] = {"kind": kind, "parameters": ranges}
    if kind in ("random", "tpe"):
        space.update(
            samples=_int(post.get("samples"), problems, "samples"),
            seed=_int(post.get("seed"), problems, "seed"),
        )
    if kind == "tpe":
        space["batch_size"] = _int(post.get("batch_size") or "25", problems, "batch_size")
    start, end = _day(post.get("start"), problems, "start"), _day(post.get("end"), problems, "end")
    cash = _number_or_problem(post.get("initial_cash"), problems, "initial_cash")
    if problems:
        raise DomainValidationError("Some fields are not valid.", details=problems)
    return OptimizationInput(
        strategy_version=version,
        symbols=[s.strip().upper() for s in post.get("instruments", "").split(",") if s.strip()],
        timeframe=post.get("timeframe", ""),
        start=start,
        end=end,
        parameters=fixed,
        settings={**base_settings, "initial_cash": cash},
        space=space,
        constraints=[
            line.strip() for line in post.get("constraints", "").splitlines() if line.strip()
        ],
        objective=post.get("objective", "") if post.get("objective") in OBJECTIVES else "sharpe",
        direction="min" if post.get("direction") == "min" else "max",
        min_trades=_int(post.get("min_trades") or "0", {}, "min_trades"),
    )


def _number(raw: Any) -> float:
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(raw)
    return int(value) if value.is_integer() else value


def _typed(spec: ParameterSpec, raw: str) -> Any:
    if spec.type == "bool":
        return raw.lower() in ("1", "true", "on", "yes")
    if spec.type == "str":
        return raw
    return _number(raw)


def _int(raw: Any, problems: dict[str, str], key: str) -> int:
    try:
        return int(str(raw))
    except ValueError:
        problems[key] = "Give a whole number."
        return 0


def _number_or_problem(raw: Any, problems: dict[str, str], key: str) -> float:
    try:
        return float(_number(raw))
    except (TypeError, ValueError):
        problems[key] = "Give a number."
        return 0.0


def _day(raw: Any, problems: dict[str, str], key: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(str(raw)), time(), tzinfo=UTC)
    except ValueError:
        problems[key] = "Give a date (YYYY-MM-DD)."
        return datetime(2000, 1, 1, tzinfo=UTC)
