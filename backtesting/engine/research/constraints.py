"""Constraints between sweep parameters: tiny, safe boolean expressions such as ``fast < slow``.

An expression is parsed once with ``ast`` and checked against a whitelist, then compiled into
closures that are evaluated per combination on a plain ``{name: value}`` dict (the engine does
not know ``ParameterSpace``; callers pass its ``grid()`` or ``sample()`` points).

Allowed: comparisons (chained too: ``5 <= fast < slow``), ``and`` / ``or`` / ``not``,
``+ - * / // %`` and unary minus/plus, int and float literals (|x| <= 1e15), short string
literals (<= 32 characters, for ``==`` / ``!=`` against a choice parameter), ``True`` /
``False`` and parameter names. Nothing else: no ``**`` (10**10**10 is one way to hang a
worker), no calls, attributes, subscripts, lambdas, comprehensions, f-strings, names starting
with ``_``. Bounds: 500 characters, 200 syntax nodes, nesting depth 32; so parsing and
evaluating take bounded time.

Evaluation: arithmetic and ordering need numbers (a bool is not one: compare it with ``==``).
A value that is not int, float, bool or str, a missing name, a division by zero, a number too
large for a float or a comparison of a string with a number raises ``ConstraintError``. The
whole expression and every operand of ``and``/``or``/``not`` must be a comparison, a logical
combination or a boolean parameter.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_EXPRESSION_CHARS = 500
MAX_NODES = 200
MAX_DEPTH = 32
MAX_LITERAL = 1e15
MAX_STRING_CHARS = 32

Value = int | float | bool | str
Values = Mapping[str, Any]
_Eval = Callable[[Values], Any]

__all__ = [
    "Constraint",
    "ConstraintError",
    "compile_constraint",
    "satisfying",
    "take_satisfying",
]


class ConstraintError(ValueError):
    """A constraint that cannot be parsed, is not allowed, or cannot be evaluated.

    ``column`` is 1-based within the expression (None for errors of the whole expression or
    of evaluation); ``str()`` starts with "column N: " when it is known.
    """

    def __init__(self, message: str, column: int | None = None) -> None:
        self.message, self.column = message, column
        super().__init__(f"column {column}: {message}" if column is not None else message)


@dataclass(frozen=True)
class Constraint:
    """A parsed, checked constraint. ``names``: the parameters it reads, in first-use order."""

    expression: str
    names: tuple[str, ...]
    _evaluate: _Eval = field(compare=False, repr=False)

    def __call__(self, values: Values) -> bool:
        """True when the combination ``values`` satisfies the constraint."""
        return bool(self._evaluate(values))


def compile_constraint(expression: str, names: Iterable[str] | None = None) -> Constraint:
    """Parse and check ``expression`` once; ``names`` (optional) are the declared parameters,
    and any other name is an error. Raises ConstraintError with the column of the problem."""
    tree, shift = _parse(expression)
    body = expression[shift:]
    checker = _Checker(body, shift, None if names is None else frozenset(names))
    checker.check(tree.body, depth=1)
    _require_boolean(tree.body, body, shift)
    return Constraint(expression, tuple(checker.used), _compile(tree.body))


def satisfying(
    points: Iterable[Mapping[str, Any]], constraints: Sequence[Constraint]
) -> Iterator[Mapping[str, Any]]:
    """The points (lazily, in order) that satisfy every constraint."""
    for point in points:
        if all(c(point) for c in constraints):
            yield point


def take_satisfying(
    points: Iterable[Mapping[str, Any]], constraints: Sequence[Constraint], n: int
) -> list[Mapping[str, Any]]:
    """The first ``n`` points that satisfy every constraint, e.g. from a long seeded sample
    (``space.sample(max_candidates, seed)``) so the result is reproducible from the seed.
    Raises ConstraintError when ``points`` runs out first, ValueError for n < 0."""
    if n < 0:
        raise ValueError(f"cannot take {n} combinations")
    taken: list[Mapping[str, Any]] = []
    seen = 0
    for point in points:
        if len(taken) == n:
            return taken
        seen += 1
        if all(c(point) for c in constraints):
            taken.append(point)
    if len(taken) < n:
        raise ConstraintError(
            f"only {len(taken)} of {seen} candidate combinations satisfy the constraints; "
            f"{n} were asked for"
        )
    return taken


# ----------------------------------------------------------------------------- parsing


def _column(body: str, col_offset: int, shift: int) -> int:
    """1-based character column in the expression as given, from an ast offset into ``body``."""
    # ast offsets count UTF-8 bytes; people count characters.
    return len(body.encode("utf-8")[:col_offset].decode("utf-8", errors="ignore")) + 1 + shift


def _parse(expression: str) -> tuple[ast.Expression, int]:
    """The tree of ``expression`` without its leading blanks, and how many there were."""
    if not isinstance(expression, str):
        raise ConstraintError("a constraint must be a string")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ConstraintError(f"a constraint is at most {MAX_EXPRESSION_CHARS} characters long")
    for i, ch in enumerate(expression):
        if not ch.isprintable():
            raise ConstraintError("a constraint is one line of printable characters", i + 1)
    body = expression.lstrip()
    if not body:
        raise ConstraintError("the constraint is empty")
    shift = len(expression) - len(body)
    try:
        return ast.parse(body, mode="eval"), shift
    except SyntaxError as exc:
        if not exc.offset or exc.offset < 1:  # CPython reports 0 when the input ran out
            raise ConstraintError("incomplete expression", len(expression) + 1) from None
        raise ConstraintError(f"invalid syntax: {exc.msg}", exc.offset + shift) from None
    except (RecursionError, MemoryError, ValueError):
        raise ConstraintError("the constraint is nested too deeply") from None


_COMPARE_OPS: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_BIN_OPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_SYMBOLS: dict[type[ast.AST], str] = {
    ast.Pow: "**",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.Invert: "~",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
}

_FORBIDDEN = {
    ast.Call: "function calls are",
    ast.Attribute: "attribute access is",
    ast.Subscript: "subscripts are",
    ast.Lambda: "lambdas are",
    ast.IfExp: "conditional expressions are",
    ast.NamedExpr: "assignments are",
    ast.JoinedStr: "f-strings are",
    ast.ListComp: "comprehensions are",
    ast.SetComp: "comprehensions are",
    ast.DictComp: "comprehensions are",
    ast.GeneratorExp: "comprehensions are",
    ast.List: "lists are",
    ast.Tuple: "tuples are",
    ast.Set: "sets are",
    ast.Dict: "dicts are",
    ast.Starred: "starred expressions are",
    ast.Await: "await is",
    ast.Yield: "yield is",
    ast.YieldFrom: "yield is",
    ast.Slice: "slices are",
}


class _Checker:
    """Walks the tree once: whitelist, bounds, and the names used."""

    def __init__(self, body: str, shift: int, declared: frozenset[str] | None) -> None:
        self.body, self.shift, self.declared = body, shift, declared
        self.nodes = 0
        self.used: list[str] = []

    def fail(self, node: ast.AST, message: str) -> ConstraintError:
        offset = getattr(node, "col_offset", None)
        column = None if offset is None else _column(self.body, offset, self.shift)
        return ConstraintError(message, column)

    def check(self, node: ast.expr, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(node, f"a constraint has at most {MAX_NODES} parts")
        if depth > MAX_DEPTH:
            raise self.fail(node, f"a constraint nests at most {MAX_DEPTH} levels deep")
        for child in self._children(node):
            self.check(child, depth + 1)

    def _children(self, node: ast.expr) -> list[ast.expr]:
        if isinstance(node, ast.BoolOp):
            return list(node.values)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.BinOp):
            return self._binary(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Constant):
            self._constant(node)
            return []
        if isinstance(node, ast.Name):
            self._name(node)
            return []
        kind = _FORBIDDEN.get(type(node), f"{type(node).__name__} is")
        raise self.fail(node, f"{kind} not allowed in a constraint")

    def _unary(self, node: ast.UnaryOp) -> list[ast.expr]:
        if not isinstance(node.op, ast.Not | ast.USub | ast.UAdd):
            raise self.fail(node, f"the operator {_SYMBOLS.get(type(node.op), '?')} is not allowed")
        return [node.operand]

    def _binary(self, node: ast.BinOp) -> list[ast.expr]:
        if type(node.op) not in _BIN_OPS:
            symbol = _SYMBOLS.get(type(node.op), type(node.op).__name__)
            raise self.fail(node, f"the operator {symbol} is not allowed")
        return [node.left, node.right]

    def _compare(self, node: ast.Compare) -> list[ast.expr]:
        for op in node.ops:
            if type(op) not in _COMPARE_OPS:
                symbol = _SYMBOLS.get(type(op), type(op).__name__)
                raise self.fail(node, f"the comparison {symbol} is not allowed")
        return [node.left, *node.comparators]

    def _constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool):
            return
        if isinstance(value, str):
            if len(value) > MAX_STRING_CHARS:
                raise self.fail(node, f"strings are at most {MAX_STRING_CHARS} characters")
            return
        if isinstance(value, int | float):
            # The size first: math.isfinite raises on an int past float's range.
            if not (abs(value) <= MAX_LITERAL and math.isfinite(value)):
                raise self.fail(node, f"numbers are at most {MAX_LITERAL:.0e} in size")
            return
        raise self.fail(node, f"the literal {type(value).__name__} is not allowed")

    def _name(self, node: ast.Name) -> None:
        if node.id.startswith("_"):
            raise self.fail(node, f"names starting with _ are not allowed ({node.id})")
        if self.declared is not None and node.id not in self.declared:
            raise self.fail(node, f"unknown parameter {node.id}")
        if node.id not in self.used:
            self.used.append(node.id)


def _is_boolean(node: ast.expr) -> bool:
    if isinstance(node, ast.Compare | ast.BoolOp | ast.Name):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return True
    return isinstance(node, ast.Constant) and isinstance(node.value, bool)


def _require_boolean(node: ast.expr, body: str, shift: int) -> None:
    """The whole expression and the operands of and/or/not must be true/false valued."""
    if not _is_boolean(node):
        column = _column(body, node.col_offset, shift)
        raise ConstraintError("expected a comparison such as fast < slow", column)
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            _require_boolean(value, body, shift)
    elif isinstance(node, ast.UnaryOp):
        _require_boolean(node.operand, body, shift)


# ----------------------------------------------------------------------------- evaluating


def _compile(node: ast.expr) -> _Eval:
    if isinstance(node, ast.Constant):
        value = node.value
        return lambda _values: value
    if isinstance(node, ast.Name):
        return _compile_name(node.id)
    if isinstance(node, ast.BoolOp):
        return _compile_boolop(node)
    if isinstance(node, ast.UnaryOp):
        return _compile_unary(node)
    if isinstance(node, ast.BinOp):
        return _compile_binop(node)
    if isinstance(node, ast.Compare):
        return _compile_compare(node)
    raise AssertionError(f"unchecked node {type(node).__name__}")  # the checker ran first


def _compile_name(name: str) -> _Eval:
    def load(values: Values) -> Any:
        try:
            value = values[name]
        except KeyError:
            raise ConstraintError(f"the combination has no parameter {name}") from None
        if not isinstance(value, int | float | str):  # bool is an int
            raise ConstraintError(f"parameter {name} is not a number, a bool or a string")
        return value

    return load


def _truth(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConstraintError(f"{value!r} is not true or false; compare it with something")
    return value


def _compile_boolop(node: ast.BoolOp) -> _Eval:
    parts = [_compile(v) for v in node.values]
    if isinstance(node.op, ast.And):
        return lambda values: all(_truth(p(values)) for p in parts)
    return lambda values: any(_truth(p(values)) for p in parts)


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConstraintError(f"{value!r} is not a number")
    return value


def _compile_unary(node: ast.UnaryOp) -> _Eval:
    operand = _compile(node.operand)
    if isinstance(node.op, ast.Not):
        return lambda values: not _truth(operand(values))
    if isinstance(node.op, ast.USub):
        return lambda values: -_number(operand(values))
    return lambda values: +_number(operand(values))


def _compile_binop(node: ast.BinOp) -> _Eval:
    left, right, op = _compile(node.left), _compile(node.right), _BIN_OPS[type(node.op)]

    def apply(values: Values) -> Any:
        a, b = _number(left(values)), _number(right(values))
        try:
            return op(a, b)
        except ZeroDivisionError:
            raise ConstraintError(f"division by zero in {a!r} and {b!r}") from None
        except OverflowError:  # int / int whose result no float can hold
            raise ConstraintError("a number in the constraint grew too large") from None

    return apply


def _compare_pair(op: type[ast.cmpop], a: Any, b: Any) -> bool:
    if op in (ast.Eq, ast.NotEq):
        return _COMPARE_OPS[op](a, b)
    if isinstance(a, str) and isinstance(b, str):
        return _COMPARE_OPS[op](a, b)
    return _COMPARE_OPS[op](_number(a), _number(b))


def _compile_compare(node: ast.Compare) -> _Eval:
    operands = [_compile(node.left), *(_compile(c) for c in node.comparators)]
    ops = [type(op) for op in node.ops]

    def compare(values: Values) -> bool:
        # Chained like Python: a < b < c is a < b and b < c, each operand evaluated once.
        left = operands[0](values)
        for op, right_eval in zip(ops, operands[1:], strict=True):
            right = right_eval(values)
            if not _compare_pair(op, left, right):
                return False
            left = right
        return True

    return compare
