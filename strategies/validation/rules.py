"""Our own walk over the whole AST: every construct, name and attribute the policy forbids.

RestrictedPython's transformer runs afterwards as a second, independent layer;
this walk is the one that produces the user-facing problems.
"""

from __future__ import annotations

import ast
import string
from collections.abc import Callable
from types import SimpleNamespace
from typing import Final

from strategies.validation.allowlists import (
    ALLOWED_DECORATORS,
    ALLOWED_MODULES,
    DYNAMIC_ATTRIBUTE_FUNCTIONS,
    FORMAT_METHODS,
)
from strategies.validation.names import (
    Finding,
    allowed_modules_text,
    check_attribute,
    check_identifier,
    normalise,
)
from strategies.validation.results import Problem

Locate = Callable[[ast.AST, str, str], Problem]

# Constructs with a reason of their own; anything else not in _ALLOWED_NODES gets a
# generic message, so syntax added by future Pythons is refused until reviewed.
_FORBIDDEN_SYNTAX: Final[dict[type[ast.AST], str]] = {
    ast.Global: "global statements are not allowed; keep state on self instead",
    ast.Nonlocal: "nonlocal statements are not allowed; keep state on self instead",
    ast.AsyncFunctionDef: "async functions are not allowed",
    ast.Await: "await is not allowed",
    ast.AsyncFor: "async for is not allowed",
    ast.AsyncWith: "async with is not allowed",
    ast.Match: "match statements are not supported; use if/elif",
    ast.TryStar: "except* (exception groups) is not supported",
    ast.AnnAssign: "annotated assignments are not supported; write `name = value`",
}

_ALLOWED_NODES: Final = (
    ast.Module,
    ast.Expr,
    ast.Assign,
    ast.AugAssign,
    ast.For,
    ast.While,
    ast.If,
    ast.With,
    ast.withitem,
    ast.Raise,
    ast.Try,
    ast.ExceptHandler,
    ast.Assert,
    ast.Delete,
    ast.Pass,
    ast.Break,
    ast.Continue,
    ast.Return,
    ast.Import,
    ast.ImportFrom,
    ast.alias,
    ast.FunctionDef,
    ast.ClassDef,
    ast.Lambda,
    ast.arguments,
    ast.arg,
    ast.keyword,
    ast.BoolOp,
    ast.BinOp,
    ast.UnaryOp,
    ast.IfExp,
    ast.Dict,
    ast.Set,
    ast.List,
    ast.Tuple,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.comprehension,
    ast.Yield,
    ast.YieldFrom,
    ast.Compare,
    ast.Call,
    ast.FormattedValue,
    ast.JoinedStr,
    ast.Constant,
    ast.Attribute,
    ast.Subscript,
    ast.Starred,
    ast.Name,
    ast.Slice,
    ast.NamedExpr,
    ast.operator,
    ast.unaryop,
    ast.cmpop,
    ast.boolop,
    ast.expr_context,
)


class PolicyChecker(ast.NodeVisitor):
    """Collects a problem for every forbidden node; call ``visit(tree)`` once."""

    def __init__(self, locate: Locate) -> None:
        self.problems: list[Problem] = []
        self._locate = locate
        # Name nodes that are the direct callee of a checked call (getattr, super).
        self._checked_callees: set[int] = set()

    def report(self, node: ast.AST, finding: Finding | None) -> None:
        if finding is not None:
            self.problems.append(self._locate(node, *finding))

    def visit(self, node: ast.AST) -> None:
        if type(node) in _FORBIDDEN_SYNTAX:
            self.report(node, ("forbidden_syntax", _FORBIDDEN_SYNTAX[type(node)]))
            return  # its insides would only repeat the same complaint
        if not isinstance(node, _ALLOWED_NODES):
            name = type(node).__name__
            self.report(node, ("forbidden_syntax", f"{name} is not supported"))
            return
        super().visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        name = normalise(node.id)
        if name in DYNAMIC_ATTRIBUTE_FUNCTIONS and id(node) not in self._checked_callees:
            self.report(
                node,
                (
                    "dynamic_attribute",
                    f"{name}() may only be called directly, "
                    "with a string literal as the attribute name",
                ),
            )
        elif name == "super" and id(node) not in self._checked_callees:
            self.report(node, ("forbidden_call", "super may only be called as super()"))
        else:
            self.report(node, check_identifier(name))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        finding = check_attribute(node.attr)
        if finding is None and normalise(node.attr) in FORMAT_METHODS:
            finding = format_receiver_finding(node.value, normalise(node.attr))
        # Point at the attribute itself, not at the start of a long a.b.c chain.
        end_line, end_col = node.end_lineno, node.end_col_offset
        if finding is not None and end_line is not None and end_col is not None:
            position = SimpleNamespace(
                lineno=end_line, col_offset=end_col - len(node.attr.encode())
            )
            self.problems.append(self._locate(position, *finding))  # type: ignore[arg-type]
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name):
            callee = normalise(node.func.id)
            if callee in DYNAMIC_ATTRIBUTE_FUNCTIONS:
                self._checked_callees.add(id(node.func))
                self.report(node, dynamic_attribute_finding(callee, node))
            elif callee == "super":
                self._checked_callees.add(id(node.func))
                if node.args or node.keywords:
                    self.report(
                        node, ("forbidden_call", "super() must be called without arguments")
                    )
        for keyword in node.keywords:
            if keyword.arg is not None:
                self.report(keyword, check_identifier(keyword.arg, "keyword argument"))
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.report(node, check_identifier(node.name, "function name"))
        for decorator in node.decorator_list:
            self.report(decorator, decorator_finding(decorator))
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.report(node, check_identifier(node.name, "class name"))
        for decorator in node.decorator_list:
            self.report(decorator, ("forbidden_decorator", "classes may not be decorated"))
        self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> None:
        self.report(node, check_identifier(node.arg, "argument name"))
        self.generic_visit(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name is not None:
            self.report(node, check_identifier(node.name))
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.report(node, module_finding(alias.name))
            self._check_alias(node, alias)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            self.report(
                node,
                (
                    "forbidden_import",
                    "relative imports are not allowed; the "
                    f"allowed modules are {allowed_modules_text()}",
                ),
            )
        else:
            self.report(node, module_finding(node.module or ""))
        for alias in node.names:
            if alias.name == "*":
                self.report(
                    node,
                    (
                        "forbidden_import",
                        '"from ... import *" is not allowed; import the names you use',
                    ),
                )
            else:
                self.report(node, check_identifier(alias.name, "imported name"))
            self._check_alias(node, alias)

    def _check_alias(self, node: ast.AST, alias: ast.alias) -> None:
        if alias.asname is not None:
            self.report(node, check_identifier(alias.asname, "import alias"))


def module_finding(dotted: str) -> Finding | None:
    """Only the top-level allow-listed modules; their facades have no submodules."""
    name = normalise(dotted)
    if name in ALLOWED_MODULES:
        return None
    return (
        "forbidden_import",
        f'importing "{name}" is not allowed; the allowed modules are {allowed_modules_text()}',
    )


def decorator_finding(decorator: ast.expr) -> Finding | None:
    if isinstance(decorator, ast.Name) and normalise(decorator.id) in ALLOWED_DECORATORS:
        return None
    allowed = ", ".join(f"@{name}" for name in sorted(ALLOWED_DECORATORS)) or "none"
    return ("forbidden_decorator", f"this decorator is not allowed; allowed decorators: {allowed}")


def dynamic_attribute_finding(callee: str, call: ast.Call) -> Finding | None:
    """getattr(obj, "literal"[, default]) and friends: the name must be visible here."""
    args = call.args
    starred = any(isinstance(arg, ast.Starred) for arg in args)
    unpacked = any(keyword.arg is None for keyword in call.keywords)
    if starred or unpacked or len(args) < 2:
        return (
            "dynamic_attribute",
            f"{callee}() must be called with the object and the attribute name as a string literal",
        )
    name_node = args[1]
    if not (isinstance(name_node, ast.Constant) and isinstance(name_node.value, str)):
        return (
            "dynamic_attribute",
            f"{callee}() needs the attribute name as a string literal, not a computed value",
        )
    finding = check_attribute(name_node.value)
    if finding is None and normalise(name_node.value) in FORMAT_METHODS:
        return (
            "unsafe_format",
            f'{callee}() may not fetch "{name_node.value}"; call '
            ".format() directly on a string literal",
        )
    return finding


def format_receiver_finding(receiver: ast.expr, method: str) -> Finding | None:
    """str.format is safe only on a literal template without attribute/index fields."""
    if not (isinstance(receiver, ast.Constant) and isinstance(receiver.value, str)):
        return (
            "unsafe_format",
            f".{method}() may only be used on a string literal; "
            'use an f-string instead (f"{value:.2f}")',
        )
    try:
        fields = list(_format_fields(receiver.value, nesting=0))
    except ValueError as error:
        return ("unsafe_format", f"the format string is invalid: {error}")
    if any("." in field or "[" in field for field in fields):
        return (
            "unsafe_format",
            "format fields may not use attribute or index access such "
            'as "{0.name}" or "{0[key]}"; format plain values',
        )
    return None


def _format_fields(template: str, nesting: int) -> list[str]:
    fields: list[str] = []
    for _literal, field, spec, _conversion in string.Formatter().parse(template):
        if field is not None:
            fields.append(field)
        # Python allows one level of replacement fields inside a format spec.
        if spec and "{" in spec and nesting < 2:
            fields.extend(_format_fields(spec, nesting + 1))
    return fields
