"""Reads ``name = Param(default, min=..., ...)`` declarations from the AST without running code."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Final, cast

from strategies.paramspec import ParameterDeclarationError, ParameterSpec, kind_of
from strategies.validation.names import Finding

Report = Callable[[ast.AST, Finding], None]

_OPTIONS: Final = ("min", "max", "step", "choices", "description")
_NOT_LITERAL: Final = object()
_LITERAL_TYPES: Final = (bool, int, float, str)


def literal_value(node: ast.expr) -> object:
    """The value of a literal int/float/bool/str (unary minus allowed), else _NOT_LITERAL."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = literal_value(node.operand) if isinstance(node.operand, ast.Constant) else None
        if type(inner) in (int, float):
            return -inner if isinstance(node.op, ast.USub) else inner  # type: ignore[operator]
        return _NOT_LITERAL
    if isinstance(node, ast.Constant) and type(node.value) in _LITERAL_TYPES:
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
    if kind_of(default) is None:
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
    return _build_spec(name, default, options, call, report)


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
    default: object,
    options: dict[str, object],
    call: ast.Call,
    report: Report,
) -> ParameterSpec | None:
    choices = cast("tuple[object, ...] | None", options.get("choices"))
    try:
        return ParameterSpec.declare(
            name,
            default,
            min=options.get("min"),
            max=options.get("max"),
            step=options.get("step"),
            choices=choices,
            description=options.get("description", ""),
        )
    except ParameterDeclarationError as exc:
        for problem in exc.problems:
            report(call, ("invalid_parameter", f'Param "{name}": {problem}'))
        return None
