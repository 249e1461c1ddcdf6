"""What user strategy code may import, call and touch: the allow- and deny-lists.

The sandbox's run-time guards (``_getattr_`` and friends) should reuse
``FORBIDDEN_ATTRIBUTES`` so the static and the dynamic checks cannot drift apart.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

# In the sandbox each module name maps to a facade built by us, never the real module.
ALLOWED_MODULES: Final = MappingProxyType(
    {
        "strategy": "the Strategy base class and Param declarations",
        "indicators": "our indicator functions (sma, ema, rsi, crossover, ...)",
        "numpy": "a curated read-only NumPy facade (math and array functions only)",
        "math": "the standard math functions",
    }
)

# staticmethod only wraps a function and cannot run code of its own at definition
# time. classmethod/property would let a strategy shadow engine attributes with
# descriptors, and any other decorator is an arbitrary call on a function object.
ALLOWED_DECORATORS: Final = frozenset({"staticmethod"})

_RUNS_CODE = "it runs code that the validator has not checked"
_NAMESPACES = "it exposes the interpreter's namespaces"
_INTERACTIVE = "it needs an interactive terminal, which the sandbox does not have"

# Builtins (and other names) that may not appear at all, with the reason shown to users.
FORBIDDEN_NAMES: Final = MappingProxyType(
    {
        "exec": _RUNS_CODE,
        "eval": _RUNS_CODE,
        "compile": _RUNS_CODE,
        "open": "strategies cannot read or write files",
        "globals": _NAMESPACES,
        "locals": _NAMESPACES,
        "vars": _NAMESPACES,
        "dir": _NAMESPACES,
        "type": "it can build new classes at run time; use isinstance() to test a type",
        "memoryview": "it gives raw access to memory buffers",
        "breakpoint": _INTERACTIVE,
        "input": _INTERACTIVE,
        "help": _INTERACTIVE,
        "copyright": _INTERACTIVE,
        "credits": _INTERACTIVE,
        "license": _INTERACTIVE,
        "exit": "it would stop the sandbox process",
        "quit": "it would stop the sandbox process",
        "builtins": "it is reserved by the sandbox",
        "printed": "it is reserved by the sandbox",
    }
)

# Names that reach the import machinery; reported as forbidden imports.
IMPORT_NAMES: Final = frozenset({"importlib", "__import__", "__loader__", "__spec__"})

# Only callable directly, with a string literal as the attribute name, so the
# validator sees every attribute the code can reach.
DYNAMIC_ATTRIBUTE_FUNCTIONS: Final = frozenset({"getattr", "setattr", "delattr", "hasattr"})

# str.format can walk attributes ("{0.__class__}"), so it is only allowed on a
# literal template whose fields use no attribute or index access.
FORMAT_METHODS: Final = frozenset({"format", "format_map"})

_FRAMES = "it exposes interpreter frames, code objects or their globals"
_NUMPY = "it reaches raw memory, files or writable buffers behind read-only arrays"
_CLASSES = "it walks the class hierarchy"

# Attribute names that do not start with "_" but lead out of the sandbox anyway.
FORBIDDEN_ATTRIBUTES: Final = MappingProxyType(
    {
        **dict.fromkeys(
            (
                "gi_frame",
                "gi_code",
                "gi_yieldfrom",
                "cr_frame",
                "cr_code",
                "cr_await",
                "cr_origin",
                "ag_frame",
                "ag_code",
                "ag_await",
                "f_globals",
                "f_locals",
                "f_back",
                "f_builtins",
                "f_code",
                "f_trace",
                "f_generator",
                "tb_frame",
                "tb_next",
                "co_code",
                "co_consts",
                "co_names",
                "func_globals",
                "func_code",
                "func_closure",
                "func_defaults",
                "cell_contents",
                "im_func",
                "im_self",
                "im_class",
            ),
            _FRAMES,
        ),
        **dict.fromkeys(("mro",), _CLASSES),
        **dict.fromkeys(
            (
                "ctypes",
                "ctypeslib",
                "data_as",
                "setflags",
                "flags",
                "base",
                "as_strided",
                "stride_tricks",
                "lib",
                "tofile",
                "fromfile",
                "memmap",
                "load",
                "save",
                "savez",
                "savez_compressed",
                "savetxt",
                "loadtxt",
                "genfromtxt",
                "fromregex",
                "DataSource",
                "f2py",
                "testing",
            ),
            _NUMPY,
        ),
        **dict.fromkeys(
            ("vformat", "get_field", "get_value", "format_field"),
            "it formats strings in ways that can walk attributes",
        ),
    }
)

# Attributes a Strategy instance already has; a Param of the same name would hide them.
RESERVED_PARAMETER_NAMES: Final = frozenset(
    {
        "data",
        "datas",
        "symbols",
        "buy",
        "sell",
        "close",
        "position",
        "equity",
        "cash",
        "time",
        "bar_index",
        "orders",
        "init",
        "next",
        "signals",
        "I",
        "params",
    }
)
