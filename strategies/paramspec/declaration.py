"""The rules a ``Param(default, min=..., max=..., step=..., choices=..., description=...)`` obeys.

Every problem is collected (not only the first), so the validator can show them all at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final, cast

ParamValue = int | float | bool | str
Number = int | float

PARAMETER_TYPES: Final = ("int", "float", "bool", "str")
MAX_CHOICES: Final = 100
MAX_DESCRIPTION_CHARS: Final = 500
_TYPE_NAMES: Final[dict[type, str]] = {bool: "bool", int: "int", float: "float", str: "str"}


def kind_of(value: object) -> str | None:
    """The parameter type a default declares ("int", ...), or None when it cannot be one."""
    kind = _TYPE_NAMES.get(type(value))
    if kind == "float" and not math.isfinite(cast(float, value)):
        return None
    return kind


def check_declaration(
    kind: str,
    default: ParamValue,
    given: dict[str, object],
    raw_choices: Sequence[object] | None,
    description: object,
) -> tuple[dict[str, Number | None], tuple[ParamValue, ...] | None, list[str]]:
    """(typed min/max/step, typed choices, problems) of a declaration whose default is ``kind``."""
    problems: list[str] = []
    bounds: dict[str, Number | None] = dict.fromkeys(given)
    if kind in ("bool", "str"):
        problems += [f"{key} only applies to numbers" for key, v in given.items() if v is not None]
    else:
        bounds = {key: _number(key, value, kind, problems) for key, value in given.items()}
        problems += _bound_problems(cast(float, default), bounds)
    choices = _check_choices(raw_choices, kind, default, bounds, problems)
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_CHARS:
        problems.append(f"description must be a string of at most {MAX_DESCRIPTION_CHARS} chars")
    return bounds, choices, problems


def _number(key: str, value: object, kind: str, problems: list[str]) -> Number | None:
    if value is None:
        return None
    if kind == "int" and type(value) is not int:
        problems.append(f"{key} must be a whole number because the default is an int")
        return None
    if type(value) not in (int, float) or not math.isfinite(cast(float, value)):
        problems.append(f"{key} must be a finite number")
        return None
    return float(cast(float, value)) if kind == "float" else cast(int, value)


def _bound_problems(default: float, bounds: dict[str, Number | None]) -> list[str]:
    low, high, step = bounds["min"], bounds["max"], bounds["step"]
    problems = []
    if low is not None and high is not None and low > high:
        problems.append(f"min ({low}) is greater than max ({high})")
    if low is not None and default < low:
        problems.append(f"the default ({default}) is below min ({low})")
    if high is not None and default > high:
        problems.append(f"the default ({default}) is above max ({high})")
    if step is not None and step <= 0:
        problems.append(f"step must be greater than 0 (got {step})")
    return problems


def _check_choices(
    raw: Sequence[object] | None,
    kind: str,
    default: ParamValue,
    bounds: dict[str, Number | None],
    problems: list[str],
) -> tuple[ParamValue, ...] | None:
    if raw is None:
        return None
    values = cast(tuple[ParamValue, ...], tuple(raw))
    if kind == "float":
        values = tuple(float(v) if type(v) is int else v for v in values)
    if not values or len(values) > MAX_CHOICES:
        problems.append(f"choices must list between 1 and {MAX_CHOICES} values")
    elif any(_TYPE_NAMES.get(type(value)) != kind for value in values):
        problems.append(f"every choice must be of the default's type ({kind})")
    elif len(set(values)) != len(values):
        problems.append("choices contain duplicates")
    elif default not in values:
        problems.append(f"the default ({default!r}) is not one of the choices")
    elif kind in ("int", "float") and any(
        not _within(cast(float, value), bounds["min"], bounds["max"]) for value in values
    ):
        problems.append("every choice must lie between min and max")
    return values


def _within(value: float, low: Number | None, high: Number | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)
