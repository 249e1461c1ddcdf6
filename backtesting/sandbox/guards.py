"""The RestrictedPython guard functions and builtins that compiled strategy code runs against.

RestrictedPython rewrites `a.b` to `_getattr_(a, "b")`, `a.b = c` to `_write_(a).b = c`,
`for x in y` to `_getiter_(y)`, `x += 1` to `_inplacevar_("+=", x, 1)` and `print` to
`_print._call_print(...)`; this module supplies those names. The validator already rejects
`_`-names at compile time; these guards re-check at run time so a validator bug alone is not
an escape.
"""

from __future__ import annotations

import builtins as _builtins
import functools
import operator
import types
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from RestrictedPython.Guards import (
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
)
from RestrictedPython.Limits import limited_builtins

from backtesting.sandbox.bounds import MAX_LOG_LINES
from strategies.validation import FORBIDDEN_ATTRIBUTES as POLICY_FORBIDDEN_ATTRIBUTES

USER_MODULE = "user_strategy"

# Attributes that lead from ordinary objects to frames, code, globals or the type system. The
# validator's static list is included so the compile-time and run-time checks cannot drift.
FORBIDDEN_ATTRIBUTES = frozenset(POLICY_FORBIDDEN_ATTRIBUTES) | frozenset({
    "gi_frame", "gi_code", "gi_yieldfrom", "gi_running", "cr_frame", "cr_code", "cr_await",
    "ag_frame", "ag_code", "ag_await", "tb_frame", "tb_next", "tb_lasti", "f_back",
    "f_globals", "f_locals", "f_builtins", "f_code", "f_trace", "co_code", "co_consts",
    "func_globals", "func_code", "im_func", "im_self", "mro", "with_traceback",
    "ctypes", "cffi", "tofile", "dump", "dumps", "load", "save", "fromfile", "memmap",
})  # fmt: skip
# ndarray attributes that expose raw memory or re-enable writes on the read-only bar arrays.
FORBIDDEN_ARRAY_ATTRIBUTES = frozenset(
    {"base", "data", "flags", "setflags", "resize", "itemset", "newbyteorder", "getfield",
     "setfield", "view", "byteswap"}
)  # fmt: skip
# str.format can walk attributes ("{0.__class__}") without going through _getattr_.
FORBIDDEN_STR_ATTRIBUTES = frozenset({"format", "format_map"})
_MISSING = object()


# Names that are refused for some objects only (arrays, str): never on the fast path.
_TYPE_DEPENDENT_ATTRIBUTES = FORBIDDEN_ARRAY_ATTRIBUTES | FORBIDDEN_STR_ATTRIBUTES
# Attribute names already found allowed on every object. The verdict depends on the name
# alone, so it is remembered for the process: the per-bar `self.x` / `ta.crossover` reads then
# cost one set lookup instead of the full check (the check was ~3/4 of a strategy's next()).
# Only exact str instances are looked up (a str subclass may lie about its hash, equality or
# startswith); bounded, because unvalidated code could compute endless names.
_PLAIN_NAMES: set[str] = set()
_MAX_PLAIN_NAMES = 4096
_MODULE_TYPE = types.ModuleType  # one global read on the hot path instead of two


def guarded_getattr(obj: Any, name: str, default: Any = _MISSING) -> Any:
    """getattr with a denylist; missing or refused names raise AttributeError."""
    if type(name) is not str or name not in _PLAIN_NAMES:
        name = _checked_name(obj, name)
    try:
        value = getattr(obj, name)
    except AttributeError:
        if default is _MISSING:
            raise
        return default
    if isinstance(value, _MODULE_TYPE):
        # A real module is a door to os/sys; facades are never ModuleType.
        raise AttributeError(f"'{name}' is not available in strategies")
    return value


def _checked_name(obj: Any, name: Any) -> str:
    """`name` as an exact str once the full check passed; remembered if it passes everywhere."""
    if not isinstance(name, str):
        raise TypeError("attribute name must be a string")
    # str.__str__ on a subclass returns a plain copy of its characters, whatever the subclass
    # overrides: every check below and the getattr that follows see the same exact string.
    name = str.__str__(name)
    _check_attribute(obj, name)
    if name not in _TYPE_DEPENDENT_ATTRIBUTES and len(_PLAIN_NAMES) < _MAX_PLAIN_NAMES:
        _PLAIN_NAMES.add(name)
    return name


def _check_attribute(obj: Any, name: str) -> None:
    refused = (
        name.startswith("_")
        or name in FORBIDDEN_ATTRIBUTES
        or (isinstance(obj, np.ndarray | np.generic) and name in FORBIDDEN_ARRAY_ATTRIBUTES)
        or (name in FORBIDDEN_STR_ATTRIBUTES and _is_str_or_str_type(obj))
    )
    if refused:
        raise AttributeError(f"access to attribute '{name}' is not allowed")


def _is_str_or_str_type(obj: Any) -> bool:
    # `str.format(template, x)` reaches the same unbound method as "...".format(x).
    return isinstance(obj, str) or (isinstance(obj, type) and issubclass(obj, str))


def guarded_getitem(obj: Any, key: Any) -> Any:
    if isinstance(obj, _MODULE_TYPE):
        raise TypeError("modules are not subscriptable here")
    return obj[key]


def guarded_write(obj: Any) -> Any:
    """Allow writes to plain containers, user-created arrays and the user's own instances."""
    if isinstance(obj, dict | list | set | np.ndarray):
        return obj
    if type(obj).__module__ == USER_MODULE and not isinstance(obj, type):
        return obj
    raise TypeError(f"cannot modify objects of type {type(obj).__name__}")


_INPLACE_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow,
    "<<=": operator.ilshift, ">>=": operator.irshift, "&=": operator.iand,
    "|=": operator.ior, "^=": operator.ixor, "@=": operator.imatmul,
}  # fmt: skip


def guarded_inplacevar(op: str, target: Any, value: Any) -> Any:
    try:
        return _INPLACE_OPERATORS[op](target, value)
    except KeyError:
        raise TypeError(f"operator {op} is not supported") from None


def guarded_apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


class BoundedLog:
    """Collects the user's print() output up to a byte and a line budget, then drops the rest."""

    def __init__(self, limit: int, max_lines: int = MAX_LOG_LINES) -> None:
        self.limit = limit
        self.max_lines = max_lines
        self.parts: list[str] = []
        self.size = 0
        self.lines = 0
        self.truncated = False

    def write(self, text: str) -> None:
        if self.truncated:
            return
        room = self.max_lines - self.lines
        if text.count("\n") > room:
            text = "\n".join(text.split("\n", room)[:room]) + "\n" if room else ""
            self.truncated = True
        self.lines += text.count("\n")
        encoded = text.encode("utf-8", "replace")
        if self.size + len(encoded) > self.limit:
            text = encoded[: self.limit - self.size].decode("utf-8", "ignore")
            self.truncated = True
        self.parts.append(text)
        self.size += len(text.encode("utf-8", "replace"))

    def text(self) -> str:
        return "".join(self.parts)


class _Printer:
    """What `_print_` hands RestrictedPython for one function scope: print() into the log."""

    __slots__ = ("_log",)

    def __init__(self, log: BoundedLog, _getattr: Any = None) -> None:
        self._log = log

    def _call_print(self, *objects: Any, sep: Any = " ", end: Any = "\n", **_: Any) -> None:
        # file= is ignored on purpose: output only ever goes to the bounded log.
        self._log.write(str(sep).join(str(o) for o in objects) + str(end))

    def __call__(self) -> str:
        return self._log.text()


def make_print_factory(log: BoundedLog) -> Callable[[Any], Any]:
    """The `_print_` RestrictedPython calls once per function scope; all scopes share one log."""
    # A partial of one class, not a class made per run: a sweep builds fresh globals for
    # every combination, and creating the class was ~4 us of each.
    return functools.partial(_Printer, log)


CURATED_BUILTINS: dict[str, Any] = {
    name: getattr(_builtins, name)
    for name in (
        "min",
        "max",
        "sum",
        "abs",
        "round",
        "len",
        "range",
        "enumerate",
        "zip",
        "sorted",
        "reversed",
        "any",
        "all",
        "float",
        "int",
        "bool",
        "str",
        "list",
        "dict",
        "tuple",
        "set",
        "frozenset",
        "isinstance",
        "map",
        "filter",
        "divmod",
        "pow",
    )
}


def restricted_builtins(importer: Callable[..., Any]) -> dict[str, Any]:
    """safe_builtins + limited_builtins + a curated few; __import__ only hands out facades."""
    return {
        **safe_builtins,
        **limited_builtins,
        **CURATED_BUILTINS,
        "__import__": importer,
        "getattr": guarded_getattr,
        "hasattr": guarded_hasattr,
        # RestrictedPython's own setattr/delattr use its write guard; ours must apply instead.
        "setattr": guarded_setattr,
        "delattr": guarded_delattr,
    }


def guarded_setattr(obj: Any, name: str, value: Any) -> None:
    name = _checked_name(obj, name)
    setattr(guarded_write(obj), name, value)


def guarded_delattr(obj: Any, name: str) -> None:
    name = _checked_name(obj, name)
    delattr(guarded_write(obj), name)


def guarded_hasattr(obj: Any, name: str) -> bool:
    try:
        guarded_getattr(obj, name)
    except AttributeError:
        return False
    return True


def make_importer(facades: Mapping[str, object]) -> Callable[..., object]:
    def importer(
        name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0
    ) -> object:
        if level != 0 or name not in facades:
            raise ImportError(f"import of '{name}' is not allowed in strategies")
        return facades[name]

    return importer


def restricted_globals(facades: Mapping[str, object], log: BoundedLog) -> dict[str, Any]:
    """A fresh globals dict for exec() of a RestrictedPython code object."""
    return {
        "__builtins__": restricted_builtins(make_importer(facades)),
        "__name__": USER_MODULE,
        "__metaclass__": type,
        "_getattr_": guarded_getattr,
        "_getitem_": guarded_getitem,
        "_write_": guarded_write,
        "_getiter_": iter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_inplacevar_": guarded_inplacevar,
        "_apply_": guarded_apply,
        "_print_": make_print_factory(log),
    }
