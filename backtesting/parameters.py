"""Checking a backtest's parameter values against the parameters its strategy version declares.

The rules are the ``ParameterSpec``'s (strategies.paramspec), the same the engine runs with;
this module only words each broken rule for an API client and bounds what the job row stores.
"""

from __future__ import annotations

from typing import Any

from backtesting.jobs.bounds import MAX_ITEMS, text_bound
from strategies.paramspec import ParameterSpace, ParameterValueError
from tradeplatform.errors import DomainValidationError

# A text parameter is stored on the job row and shown with every listing of it.
MAX_TEXT_PARAMETER_CHARS = 1_000


class ParameterError(DomainValidationError):
    code = "invalid_parameters"
    default_message = "Some strategy parameters are not valid."


def parameters_resolve(declared: list[dict[str, Any]], given: dict[str, Any]) -> dict[str, Any]:
    """Declared defaults overlaid with `given`; raises ParameterError listing every problem.

    `declared` is StrategyVersion.parameters (ParameterSpec.to_dict() dicts). A float
    parameter given 10 resolves to 10.0, so reruns hash and compare the same.
    """
    resolution = ParameterSpace.from_dicts(declared).resolve(given)
    # The 400 echoes unknown names: a few, each short, however many a client sent.
    problems: dict[str, str] = {
        text_bound(name, 100): "The strategy declares no such parameter."
        for name in resolution.unknown[:MAX_ITEMS]
    }
    problems.update({name: _worded(exc) for name, exc in resolution.errors.items()})
    for name, value in resolution.values.items():
        if isinstance(value, str) and len(value) > MAX_TEXT_PARAMETER_CHARS:
            problems[name] = f"At most {MAX_TEXT_PARAMETER_CHARS:,} characters."
    if problems:
        raise ParameterError(details={"parameters": problems})
    return resolution.values


def _worded(exc: ParameterValueError) -> str:
    spec = exc.spec
    if exc.rule == "type":
        return f"Expected a value of type {spec.type}."
    if exc.rule == "choices":
        return text_bound(f"Must be one of {list(spec.choices or ())}.", 1000)
    if exc.rule == "min":
        return f"Must be at least {spec.min}."
    return f"Must be at most {spec.max}."
