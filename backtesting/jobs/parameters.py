"""Checking a backtest's parameter values against the types and ranges the strategy declares.

Pure functions over StrategyVersion.parameters (ParameterSpec.to_dict() dicts), so the
same rules hold for the API, the HTML form and future optimization sweeps.
"""

from __future__ import annotations

import math
from typing import Any

from backtesting.jobs.bounds import MAX_ITEMS, text_bound
from tradeplatform.errors import DomainValidationError

# A text parameter is stored on the job row and shown with every listing of it.
MAX_TEXT_PARAMETER_CHARS = 1_000


class ParameterError(DomainValidationError):
    code = "invalid_parameters"
    default_message = "Some strategy parameters are not valid."


def parameters_resolve(declared: list[dict[str, Any]], given: dict[str, Any]) -> dict[str, Any]:
    """Declared defaults overlaid with `given`; raises ParameterError listing every problem."""
    by_name = {spec["name"]: spec for spec in declared}
    # The 400 echoes unknown names: a few, each short, however many a client sent.
    unknown = [name for name in given if name not in by_name][:MAX_ITEMS]
    problems: dict[str, str] = {
        text_bound(name, 100): "The strategy declares no such parameter." for name in unknown
    }
    resolved: dict[str, Any] = {}
    for name, spec in by_name.items():
        value = given.get(name, spec["default"])
        problem = _problem(spec, value)
        if problem:
            problems[name] = problem
        else:
            # 10 for a float parameter is stored as 10.0 so reruns hash and compare the same.
            resolved[name] = float(value) if spec["type"] == "float" else value
    if problems:
        raise ParameterError(details={"parameters": problems})
    return resolved


def _problem(spec: dict[str, Any], value: Any) -> str | None:
    kind = spec["type"]
    if not _has_type(kind, value):
        return f"Expected a value of type {kind}."
    if spec.get("choices") is not None and value not in spec["choices"]:
        return text_bound(f"Must be one of {spec['choices']}.", 1000)
    if kind == "str" and len(value) > MAX_TEXT_PARAMETER_CHARS:
        return f"At most {MAX_TEXT_PARAMETER_CHARS:,} characters."
    if kind in ("int", "float"):
        if spec.get("min") is not None and value < spec["min"]:
            return f"Must be at least {spec['min']}."
        if spec.get("max") is not None and value > spec["max"]:
            return f"Must be at most {spec['max']}."
    return None


def _has_type(kind: str, value: Any) -> bool:
    # bool is an int in Python; a checkbox value must not pass as a period length.
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(float(value))
        )
    if kind == "str":
        return isinstance(value, str)
    return False
