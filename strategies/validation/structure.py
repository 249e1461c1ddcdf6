"""The shape of a strategy file: one Strategy subclass, its methods and its parameters."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from strategies.validation.allowlists import RESERVED_PARAMETER_NAMES
from strategies.validation.limits import parse_source
from strategies.validation.names import normalise
from strategies.validation.parameters import Report, extract_parameter
from strategies.validation.results import ParameterSpec

_STYLE_METHODS = ("next", "signals")
NEXT_STYLE, SIGNALS_STYLE = _STYLE_METHODS


def strategy_style(code: str) -> str | None:
    """How the strategy class of (validated) `code` trades: "next" (bar by bar) or "signals"
    (whole arrays at once); None when the code has no readable strategy class."""
    tree = parse_source(code)
    if isinstance(tree, ast.Module):
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                methods = {normalise(n.name) for n in node.body if isinstance(n, ast.FunctionDef)}
                styles = [name for name in _STYLE_METHODS if name in methods]
                return styles[0] if len(styles) == 1 else None
    return None


@dataclass
class StrategyShape:
    class_name: str | None = None
    parameters: list[ParameterSpec] = field(default_factory=list)


@dataclass
class _Imports:
    """Local names bound by module-level imports of the strategy module."""

    strategy: set[str] = field(default_factory=set)  # from strategy import Strategy [as S]
    param: set[str] = field(default_factory=set)  # from strategy import Param [as P]
    module: set[str] = field(default_factory=set)  # import strategy [as s]

    def refers_to(self, node: ast.expr, attr: str) -> bool:
        """Is ``node`` the strategy module's ``attr`` (Strategy or Param)?"""
        local = self.strategy if attr == "Strategy" else self.param
        if isinstance(node, ast.Name):
            return normalise(node.id) in local
        return (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and normalise(node.value.id) in self.module
            and normalise(node.attr) == attr
        )


def check_structure(tree: ast.Module, report: Report) -> StrategyShape:
    """Reports structural problems and returns the strategy class name and parameters."""
    imports = _collect_imports(tree)
    _check_nested_classes(tree, report)
    candidates = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    strategies = [node for node in candidates if _check_class_header(node, imports, report)]
    if not candidates:
        report(
            tree,
            (
                "no_strategy_class",
                "the code must define one class that derives from "
                "Strategy (from strategy import Strategy)",
            ),
        )
    for extra in strategies[1:]:
        report(
            extra,
            (
                "multiple_strategy_classes",
                "only one Strategy class is allowed per "
                f'file; "{strategies[0].name}" is already defined',
            ),
        )
    shape = StrategyShape()
    if strategies:
        cls = strategies[0]
        shape.class_name = normalise(cls.name)
        _check_methods(cls, report)
        shape.parameters = _collect_parameters(cls, imports, report)
    _check_param_uses(tree, imports, strategies[:1], report)
    return shape


def _collect_imports(tree: ast.Module) -> _Imports:
    imports = _Imports()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "strategy" and not node.level:
            for alias in node.names:
                bound = normalise(alias.asname or alias.name)
                if alias.name == "Strategy":
                    imports.strategy.add(bound)
                elif alias.name == "Param":
                    imports.param.add(bound)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "strategy":
                    imports.module.add(normalise(alias.asname or alias.name))
    return imports


def _check_nested_classes(tree: ast.Module, report: Report) -> None:
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and id(node) not in top_level:
            report(
                node,
                ("forbidden_class", "classes may only be defined at the top level of the file"),
            )


def _check_class_header(node: ast.ClassDef, imports: _Imports, report: Report) -> bool:
    """True when ``node`` is a well-formed Strategy subclass; reports what is wrong."""
    ok = True
    for keyword in node.keywords:
        what = "a metaclass" if keyword.arg == "metaclass" else "class keyword arguments"
        report(keyword, ("forbidden_class", f'class "{node.name}" may not use {what}'))
        ok = False
    base_ok = len(node.bases) == 1 and imports.refers_to(node.bases[0], "Strategy")
    if base_ok:
        return ok
    names_strategy = len(node.bases) == 1 and isinstance(node.bases[0], ast.Name)
    if names_strategy and normalise(node.bases[0].id) == "Strategy":  # type: ignore[attr-defined]
        report(
            node,
            (
                "missing_strategy_import",
                'Strategy must be imported with "from strategy import Strategy"',
            ),
        )
        return ok
    report(
        node,
        (
            "forbidden_class",
            f'class "{node.name}" must derive from Strategy and '
            "nothing else; it is the only class a file may define",
        ),
    )
    return False


def _check_methods(cls: ast.ClassDef, report: Report) -> None:
    methods = {normalise(n.name) for n in cls.body if isinstance(n, ast.FunctionDef)}
    styles = [name for name in _STYLE_METHODS if name in methods]
    if not styles:
        report(
            cls,
            (
                "missing_method",
                f'class "{cls.name}" must define next(self) (bar by '
                "bar, optionally with init(self)) or signals(self, data)",
            ),
        )
    elif len(styles) > 1:
        report(
            cls,
            (
                "conflicting_methods",
                f'class "{cls.name}" defines both next() and '
                "signals(); a strategy uses one style or the other",
            ),
        )


def _collect_parameters(
    cls: ast.ClassDef, imports: _Imports, report: Report
) -> list[ParameterSpec]:
    specs: list[ParameterSpec] = []
    for node in cls.body:
        call = _param_call(node, imports)
        if call is None:
            continue
        name = _param_target(node, report)  # type: ignore[arg-type]
        if name is None:
            continue
        if name in RESERVED_PARAMETER_NAMES:
            report(
                node,
                (
                    "reserved_parameter_name",
                    f'"{name}" is already a Strategy attribute; choose another parameter name',
                ),
            )
        elif any(spec.name == name for spec in specs):
            report(node, ("duplicate_parameter", f'the parameter "{name}" is declared twice'))
        else:
            spec = extract_parameter(name, call, report)
            specs.extend([spec] if spec is not None else [])
    return specs


def _param_call(node: ast.stmt, imports: _Imports) -> ast.Call | None:
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
        return node.value if imports.refers_to(node.value.func, "Param") else None
    return None


def _param_target(node: ast.Assign, report: Report) -> str | None:
    if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return normalise(node.targets[0].id)
    report(node, ("invalid_parameter", "declare one parameter per line: name = Param(...)"))
    return None


def _check_param_uses(
    tree: ast.Module, imports: _Imports, strategies: list[ast.ClassDef], report: Report
) -> None:
    """Param may appear only as the callee of a declaration the validator has read."""
    declared: set[int] = set()
    for cls in strategies:
        for node in cls.body:
            call = _param_call(node, imports)
            if call is not None:
                declared.add(id(call.func))
    for found in ast.walk(tree):
        if not isinstance(found, ast.Name | ast.Attribute) or id(found) in declared:
            continue
        if imports.refers_to(found, "Param") and isinstance(found.ctx, ast.Load):
            report(
                found,
                (
                    "misplaced_parameter",
                    "Param may only be used as "
                    "`name = Param(...)` in the body of the Strategy class",
                ),
            )
