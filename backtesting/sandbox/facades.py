"""What `import numpy`, `import math`, `import indicators` and `from strategy import ...` give.

Each import maps to a SimpleNamespace holding only vetted callables and constants, never a
module object: a real module's attributes lead back to os, sys and the file system.
"""

from __future__ import annotations

import inspect
import math
from types import ModuleType, SimpleNamespace

import numpy as np

# Imported here, not in build_facades(): the child imports this module before its lockdown.
from backtesting import engine
from backtesting.engine import indicators

# Math and array functions only. Not here on purpose: file I/O (load, save, fromfile, tofile,
# memmap, genfromtxt), raw-memory constructors (ndarray, frombuffer, lib.stride_tricks),
# ctypes, testing, random (its BitGenerator exposes .ctypes/.cffi), and sub-modules.
NUMPY_NAMES: tuple[str, ...] = (
    "nan", "inf", "pi", "e", "newaxis",
    "float64", "float32", "int64", "int32", "bool_",
    "array", "asarray", "zeros", "ones", "full", "zeros_like", "ones_like", "full_like",
    "arange", "linspace", "copy", "concatenate", "stack", "vstack", "hstack", "column_stack",
    "append", "insert", "delete", "flip", "roll", "tile", "repeat", "reshape", "ravel",
    "where", "select", "clip", "nonzero", "count_nonzero", "searchsorted", "interp",
    "sort", "argsort", "unique", "isnan", "isfinite", "isinf", "isclose", "allclose",
    "nan_to_num", "abs", "absolute", "sign", "sqrt", "square", "exp", "expm1", "log", "log1p",
    "log2", "log10", "power", "maximum", "minimum", "fmax", "fmin", "floor", "ceil", "round",
    "trunc", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh",
    "tanh", "add", "subtract", "multiply", "divide", "floor_divide", "mod", "negative",
    "sum", "nansum", "prod", "cumsum", "cumprod", "nancumsum", "diff", "gradient",
    "mean", "nanmean", "average", "median", "nanmedian", "std", "nanstd", "var", "nanvar",
    "min", "max", "nanmin", "nanmax", "amin", "amax", "argmin", "argmax", "nanargmin",
    "nanargmax", "percentile", "nanpercentile", "quantile", "nanquantile", "ptp",
    "all", "any", "logical_and", "logical_or", "logical_not", "logical_xor",
    "greater", "greater_equal", "less", "less_equal", "equal", "not_equal",
    "dot", "outer", "convolve", "correlate", "corrcoef", "cov", "polyfit", "polyval",
    "histogram", "digitize", "cross", "trapezoid",
)  # fmt: skip
MATH_NAMES: tuple[str, ...] = tuple(name for name in dir(math) if not name.startswith("_"))
STRATEGY_NAMES = ("Strategy", "Param")


def _names(module: ModuleType, names: tuple[str, ...]) -> dict[str, object]:
    return {n: getattr(module, n) for n in names if hasattr(module, n)}


def _public_functions(module: ModuleType) -> dict[str, object]:
    """Functions defined in `module` itself (not ones it imported) and not `_`-prefixed."""
    return {
        name: value
        for name, value in vars(module).items()
        if not name.startswith("_")
        and inspect.isfunction(value)
        and value.__module__ == module.__name__
    }


# What each facade holds, looked up once per process: a sweep builds fresh facades for every
# combination, and the ~400 hasattr/getattr lookups were ~6% of a daily-bar combination.
_CONTENTS: dict[str, dict[str, object]] = {
    "numpy": _names(np, NUMPY_NAMES),
    "math": _names(math, MATH_NAMES),
    "indicators": _public_functions(indicators),
    "strategy": _names(engine, STRATEGY_NAMES),
}


def build_facades() -> dict[str, object]:
    """Fresh facade objects for one run (a run that mutates one cannot affect another)."""
    return {name: SimpleNamespace(**contents) for name, contents in _CONTENTS.items()}
