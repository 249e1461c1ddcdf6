"""Run untrusted strategy code in a disposable, resource-limited, jailed child process.

Django-free: the worker imports it, and the jailed child imports parts of it. See
docs/sandbox.md for the threat model and the layers.
"""

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
