"""Reads ``name = Param(default, min=..., ...)`` declarations from the AST without running code."""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from typing import Final, cast

from strategies.validation.names import Finding
from strategies.validation.results import ParameterSpec, ParamValue

Report = Callable[[ast.AST, Finding], None]

MAX_CHOICES: Final = 100
MAX_DESCRIPTION_CHARS: Final = 500
_OPTIONS: Final = ("min", "max", "step", "choices", "description")
_NOT_LITERAL: Final = object()
_TYPE_NAMES: Final = {bool: "bool", int: "int", float: "float", str: "str"}


def literal_value(node: ast.expr) -> object:
    """The value of a literal int/float/bool/str (unary minus allowed), else _NOT_LITERAL."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = literal_value(node.operand) if isinstance(node.operand, ast.Constant) else None
        if type(inner) in (int, float):
            return -inner if isinstance(node.op, ast.USub) else inner  # type: ignore[operator]
        return _NOT_LITERAL
    if isinstance(node, ast.Constant) and type(node.value) in _TYPE_NAMES:
        return node.value
    return _NOT_LITERAL


def extract_parameter(name: str, call: ast.Call, report: Report) -> ParameterSpec | None:
    """A ParameterSpec for one declaration, or None after reporting why not."""
    if any(isinstance(arg, ast.Starred) for arg in call.args) or any(
        keyword.arg is None for keyword in call.keywords
    ):
        report(
            call,
            (
                "parameter_not_literal",
                f'Param "{name}" must spell out its arguments (no *args or **kwargs)',
            ),
        )
        return None
    if len(call.args) != 1:
        report(
            call,
            (
                "invalid_parameter",
                f'Param "{name}" takes exactly one positional argument, the default value',
            ),
        )
        return None
    default = _literal_or_report(name, "default", call.args[0], report)
    if default is _NOT_LITERAL:
        return None
    kind = _TYPE_NAMES.get(type(default))
    if kind is None or (kind == "float" and not math.isfinite(default)):  # type: ignore[arg-type]
        report(
            call.args[0],
            (
                "invalid_parameter",
                f'Param "{name}": the default must be a finite int, float, bool or str',
            ),
        )
        return None
    options = _read_options(name, call, report)
    if options is None:
        return None
    return _build_spec(name, kind, default, options, call, report)  # type: ignore[arg-type]


def _literal_or_report(name: str, what: str, node: ast.expr, report: Report) -> object:
    value = literal_value(node)
    if value is _NOT_LITERAL:
        report(
            node,
            (
                "parameter_not_literal",
                f'Param "{name}": {what} must be a literal '
                "number, bool or string (the validator does not run code)",
            ),
        )
    return value


def _read_options(name: str, call: ast.Call, report: Report) -> dict[str, object] | None:
    options: dict[str, object] = {}
    ok = True
    for keyword in call.keywords:
        option = keyword.arg or ""
        if option not in _OPTIONS:
            report(
                keyword,
                (
                    "invalid_parameter",
                    f'Param "{name}" has no option "{option}"; '
                    f"the options are {', '.join(_OPTIONS)}",
                ),
            )
            ok = False
        elif option == "choices":
            options[option] = _read_choices(name, keyword.value, report)
            ok = ok and options[option] is not _NOT_LITERAL
        else:
            options[option] = _literal_or_report(name, option, keyword.value, report)
            ok = ok and options[option] is not _NOT_LITERAL
    return options if ok else None


def _read_choices(name: str, node: ast.expr, report: Report) -> object:
    if not isinstance(node, ast.List | ast.Tuple):
        report(
            node,
            ("parameter_not_literal", f'Param "{name}": choices must be a literal list or tuple'),
        )
        return _NOT_LITERAL
    values = [literal_value(element) for element in node.elts]
    if any(value is _NOT_LITERAL for value in values):
        report(
            node,
            (
                "parameter_not_literal",
                f'Param "{name}": every choice must be a literal number, bool or string',
            ),
        )
        return _NOT_LITERAL
    return tuple(values)


def _build_spec(
    name: str,
    kind: str,
    default: ParamValue,
    options: dict[str, object],
    call: ast.Call,
    report: Report,
) -> ParameterSpec | None:
    errors: list[str] = []
    given = {key: options.get(key) for key in ("min", "max", "step")}
    bounds: dict[str, int | float | None] = dict.fromkeys(given)
    if kind in ("bool", "str"):
        errors += [f"{key} only applies to numbers" for key, v in given.items() if v is not None]
    else:
        bounds = {key: _number(key, value, kind, errors) for key, value in given.items()}
        errors += _bound_errors(cast(float, default), bounds)
    choices = _check_choices(options.get("choices"), kind, default, bounds, errors)
    description = options.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_CHARS:
        errors.append(f"description must be a string of at most {MAX_DESCRIPTION_CHARS} chars")
    for error in errors:
        report(call, ("invalid_parameter", f'Param "{name}": {error}'))
    if errors:
        return None
    return ParameterSpec(
        name,
        kind,
        float(default) if kind == "float" else default,
        bounds["min"],
        bounds["max"],
        bounds["step"],
        choices,
        str(description),
    )


def _number(key: str, value: object, kind: str, errors: list[str]) -> int | float | None:
    if value is None:
        return None
    if kind == "int" and type(value) is not int:
        errors.append(f"{key} must be a whole number because the default is an int")
        return None
    if type(value) not in (int, float) or not math.isfinite(value):  # type: ignore[arg-type]
        errors.append(f"{key} must be a finite number")
        return None
    return float(value) if kind == "float" else value  # type: ignore[arg-type, return-value]


def _bound_errors(default: float, bounds: dict[str, float | None]) -> list[str]:
    low, high, step = bounds["min"], bounds["max"], bounds["step"]
    errors = []
    if low is not None and high is not None and low > high:
        errors.append(f"min ({low}) is greater than max ({high})")
    if low is not None and default < low:
        errors.append(f"the default ({default}) is below min ({low})")
    if high is not None and default > high:
        errors.append(f"the default ({default}) is above max ({high})")
    if step is not None and step <= 0:
        errors.append(f"step must be greater than 0 (got {step})")
    return errors


def _check_choices(
    raw: object,
    kind: str,
    default: ParamValue,
    bounds: dict[str, int | float | None],
    errors: list[str],
) -> tuple[ParamValue, ...] | None:
    if raw is None:
        return None
    values = cast(tuple[ParamValue, ...], raw)
    if kind == "float":
        values = tuple(float(v) if type(v) is int else v for v in values)
    if not values or len(values) > MAX_CHOICES:
        errors.append(f"choices must list between 1 and {MAX_CHOICES} values")
    elif any(_TYPE_NAMES.get(type(value)) != kind for value in values):
        errors.append(f"every choice must be of the default's type ({kind})")
    elif len(set(values)) != len(values):
        errors.append("choices contain duplicates")
    elif default not in values:
        errors.append(f"the default ({default!r}) is not one of the choices")
    elif kind in ("int", "float") and any(
        not _within(cast(float, value), bounds["min"], bounds["max"]) for value in values
    ):
        errors.append("every choice must lie between min and max")
    return values


def _within(value: float, low: float | None, high: float | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)
