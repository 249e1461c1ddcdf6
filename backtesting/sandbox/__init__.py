"""Run untrusted strategy code in a disposable, resource-limited, jailed child process.

Django-free: the worker imports it, and the jailed child imports parts of it. The public names
below are loaded on first use, so a jailed child (or zygote) that imports one of this package's
modules does not also import the worker's side (launcher, isolation, supervisor, zygote). See
docs/sandbox.md for the threat model and the layers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backtesting.sandbox.batch import (
        BatchItemResult,
        BatchResult,
        ParameterSetError,
        run_strategy_batch_in_sandbox,
    )
    from backtesting.sandbox.errors import (
        ChildCrashedError,
        CpuTimeLimitError,
        ForbiddenConstructError,
        InvalidOutputError,
        MemoryLimitError,
        OutputTooLargeError,
        SandboxCancelledError,
        SandboxError,
        SandboxInternalError,
        StrategyRuntimeError,
        StrategySyntaxError,
        WallClockLimitError,
    )
    from backtesting.sandbox.isolation import isolation_level
    from backtesting.sandbox.launcher import run_strategy_in_sandbox
    from backtesting.sandbox.limits import SandboxLimits

_MODULE_OF = {
    "BatchItemResult": "batch",
    "BatchResult": "batch",
    "ParameterSetError": "batch",
    "run_strategy_batch_in_sandbox": "batch",
    "ChildCrashedError": "errors",
    "CpuTimeLimitError": "errors",
    "ForbiddenConstructError": "errors",
    "InvalidOutputError": "errors",
    "MemoryLimitError": "errors",
    "OutputTooLargeError": "errors",
    "SandboxCancelledError": "errors",
    "SandboxError": "errors",
    "SandboxInternalError": "errors",
    "StrategyRuntimeError": "errors",
    "StrategySyntaxError": "errors",
    "WallClockLimitError": "errors",
    "isolation_level": "isolation",
    "run_strategy_in_sandbox": "launcher",
    "SandboxLimits": "limits",
}

__all__ = [
    "BatchItemResult",
    "BatchResult",
    "ChildCrashedError",
    "CpuTimeLimitError",
    "ForbiddenConstructError",
    "InvalidOutputError",
    "MemoryLimitError",
    "OutputTooLargeError",
    "ParameterSetError",
    "SandboxCancelledError",
    "SandboxError",
    "SandboxInternalError",
    "SandboxLimits",
    "StrategyRuntimeError",
    "StrategySyntaxError",
    "WallClockLimitError",
    "isolation_level",
    "run_strategy_batch_in_sandbox",
    "run_strategy_in_sandbox",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this hook
    return value
