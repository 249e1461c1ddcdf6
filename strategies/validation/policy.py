"""Our RestrictedPython policy: the second, independent layer over our own AST walk.

The compiled code object calls these names, which the sandbox must put in the
globals it executes the code with (RestrictedPython's own helpers in
``RestrictedPython.Guards`` fit most of them):

- ``_getattr_(obj, name)``: every attribute read ``obj.name`` (use a getattr that also
  refuses ``allowlists.FORBIDDEN_ATTRIBUTES`` and names starting with "_",
  e.g. wrap ``Guards.safer_getattr``).
- ``_write_(obj)``: the target of every attribute/item store or delete
  (``obj.x = v``, ``obj[k] = v``, ``del obj.x``); returns the object or a guarding proxy.
- ``_getitem_(obj, key)``: every subscript read ``obj[key]`` (slices arrive as ``slice``).
- ``_getiter_(obj)``: every ``for`` loop and comprehension.
- ``_iter_unpack_sequence_(it, spec, _getiter_)``: ``for a, b in ...``
  (``Guards.guarded_iter_unpack_sequence``).
- ``_unpack_sequence_(value, spec, _getiter_)``: ``a, b = value``
  (``Guards.guarded_unpack_sequence``).
- ``_inplacevar_(op, current, value)``: augmented assignment ``x += v``, ``self.n += v``,
  ``arr[i] += v`` (op is the operator text, e.g. "+=").
- ``_apply_(func, *args, **kwargs)``: calls written with ``*args`` or ``**kwargs``.
- ``_print_(_getattr_)``: a print collector factory, needed only when the code calls
  ``print`` (``RestrictedPython.PrintCollector`` or a size-capped variant).
- ``__metaclass__``: every ``class`` statement is compiled as
  ``class X(Strategy, metaclass=__metaclass__)``; the sandbox provides ``type``.
- ``__name__``: read by every class body (to set ``__module__``).
- ``__builtins__``: the sandbox's curated builtins (``safe_builtins`` without the
  names in ``allowlists.FORBIDDEN_NAMES``) plus ``__import__`` mapping the
  ``ALLOWED_MODULES`` to their facades.
"""

from __future__ import annotations

import ast
import re
import warnings
from types import CodeType
from typing import Any, Final

from RestrictedPython.compile import compile_restricted_exec
from RestrictedPython.transformer import (
    IOPERATOR_TO_STR,
    RestrictingNodeTransformer,
    copy_locations,
)

from strategies.validation.names import check_attribute, check_identifier
from strategies.validation.results import Problem
from strategies.validation.rules import module_finding

GUARD_NAMES: Final = (
    "_getattr_",
    "_write_",
    "_getitem_",
    "_getiter_",
    "_iter_unpack_sequence_",
    "_unpack_sequence_",
    "_inplacevar_",
    "_apply_",
    "_print_",
    "__metaclass__",
)
FILENAME: Final = "<strategy>"
_RP_LINE_RE: Final = re.compile(r"^Line (\d+|None): (.*)$", re.DOTALL)


class StrategyPolicy(RestrictingNodeTransformer):
    """RestrictedPython's transformer, tightened to our rules and able to guard
    augmented assignment to attributes and items (``self.count += 1``)."""

    def check_name(self, node: Any, name: str | None, allow_magic_methods: bool = False) -> None:
        # No magic methods either: a strategy has no use for __init__ and friends.
        super().check_name(node, name, allow_magic_methods=False)
        finding = check_identifier(name) if name is not None else None
        if finding is not None and finding[0] != "private_name":  # already reported above
            self.error(node, finding[1])

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        finding = check_attribute(node.attr)
        if finding is not None and finding[0] != "private_name":
            self.error(node, finding[1])
        return super().visit_Attribute(node)

    def visit_Import(self, node: ast.Import) -> Any:
        for alias in node.names:
            self._check_module(node, alias.name)
        return super().visit_Import(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        self._check_module(node, "." * node.level + (node.module or ""))
        return super().visit_ImportFrom(node)

    def _check_module(self, node: ast.AST, dotted: str) -> None:
        finding = module_finding(dotted)
        if finding is not None:
            self.error(node, finding[1])

    def visit_Global(self, node: ast.Global) -> Any:
        self.not_allowed(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        if isinstance(node.target, ast.Attribute):
            return self._guarded_augassign(node, node.target.value, ast.Constant(node.target.attr))
        is_item = isinstance(node.target, ast.Subscript)
        if is_item and not isinstance(node.target.slice, ast.Slice):  # type: ignore[union-attr]
            return self._guarded_augassign(node, node.target.value, node.target.slice)  # type: ignore[union-attr]
        return super().visit_AugAssign(node)

    def _guarded_augassign(self, node: ast.AugAssign, owner: ast.expr, key: ast.expr) -> Any:
        """``owner.attr op= v`` / ``owner[key] op= v`` as guarded load, op and store.

        Evaluates owner, then key, then the current value, then v, like Python does,
        and each exactly once (temporaries hold them; "_" names cannot clash with user code).
        """
        owner_tmp, key_tmp = self.gen_tmp_name(), self.gen_tmp_name()
        writable = _call("_write_", _name(owner_tmp))
        target: ast.expr
        if isinstance(node.target, ast.Attribute):
            finding = check_attribute(node.target.attr)
            if finding is not None:
                self.error(node, finding[1])
            load = _call("_getattr_", _name(owner_tmp), ast.Constant(node.target.attr))
            target = ast.Attribute(writable, node.target.attr, ast.Store())
        else:
            load = _call("_getitem_", _name(owner_tmp), _name(key_tmp))
            target = ast.Subscript(writable, _name(key_tmp), ast.Store())
        operator = ast.Constant(IOPERATOR_TO_STR[type(node.op)])
        owner, key = self.visit(owner), self.visit(key)
        new_value = _call("_inplacevar_", operator, load, self.visit(node.value))
        cleanup = ast.Delete([_name(owner_tmp, ast.Del()), _name(key_tmp, ast.Del())])
        statements: list[ast.stmt] = [
            ast.Assign([_name(owner_tmp, ast.Store())], owner),
            ast.Assign([_name(key_tmp, ast.Store())], key),
            ast.Try(
                body=[ast.Assign([target], new_value)], handlers=[], orelse=[], finalbody=[cleanup]
            ),
        ]
        for statement in statements:
            copy_locations(statement, node)
        return statements


def _name(identifier: str, ctx: ast.expr_context | None = None) -> ast.Name:
    return ast.Name(identifier, ctx or ast.Load())


def _call(func: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=_name(func), args=list(args), keywords=[])


def restricted_compile(code: str) -> tuple[CodeType | None, list[Problem]]:
    """Compile under StrategyPolicy; RestrictedPython's complaints become problems.

    Call only on code that passed the size and depth limits: the transformer recurses.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # already reported by parsing, or not a problem
        result = compile_restricted_exec(code, filename=FILENAME, policy=StrategyPolicy)
    problems = [_problem_from_message(message) for message in result.errors]
    return (result.code if not problems else None), problems


def _problem_from_message(message: str) -> Problem:
    match = _RP_LINE_RE.match(message)
    if match is None:
        return Problem(0, 0, "restricted_python", message)
    line = int(match.group(1)) if match.group(1).isdigit() else 0
    return Problem(line, 0, "restricted_python", match.group(2))
