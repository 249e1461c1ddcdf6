"""Errors raised by the sandbox; each has a stable ``code`` the service stores and shows."""

from __future__ import annotations

from typing import Any, ClassVar

from backtesting.sandbox.bounds import (
    MAX_MESSAGE_CHARS,
    problems_bound,
    text_bound,
    traceback_bound,
)


class SandboxError(Exception):
    """Base class: a sandboxed run did not produce a valid result.

    ``code`` is stable (stored on the job row, shown to users); ``message`` is meant for the
    strategy author; ``traceback`` holds only lines from the user's own source
    (``line N, in next``); ``problems`` carries validator findings for syntax/forbidden errors;
    ``user_fault`` says whether the user's code caused it. All text is cut to the limits in
    bounds.py.
    """

    code: ClassVar[str] = "sandbox_error"
    default_message: ClassVar[str] = "The strategy could not be run."
    user_fault: ClassVar[bool] = True

    def __init__(
        self,
        message: str | None = None,
        *,
        traceback: list[str] | None = None,
        problems: list[dict[str, Any]] | None = None,
    ) -> None:
        # Bounded here, so no error, however it was built, carries unbounded user text.
        self.message = text_bound(message or self.default_message, MAX_MESSAGE_CHARS)
        self.traceback = traceback_bound(list(traceback or []))
        self.problems = problems_bound(list(problems or []))
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description for storing on the backtest row."""
        return {
            "code": self.code,
            "message": self.message,
            "traceback": self.traceback,
            "problems": self.problems,
            "user_fault": self.user_fault,
        }


class StrategySyntaxError(SandboxError):
    code = "syntax_error"
    default_message = "The strategy has a syntax error."


class ForbiddenConstructError(SandboxError):
    code = "forbidden_construct"
    default_message = "The strategy uses a construct that is not allowed."


class StrategyRuntimeError(SandboxError):
    code = "runtime_error"
    default_message = "The strategy raised an exception."


class CpuTimeLimitError(SandboxError):
    code = "cpu_time_limit"
    default_message = "The strategy used more CPU time than allowed."


class WallClockLimitError(SandboxError):
    code = "wall_clock_limit"
    default_message = "The strategy took longer than the allowed wall-clock time."


class MemoryLimitError(SandboxError):
    code = "memory_limit"
    default_message = "The strategy used more memory than allowed."


class OutputTooLargeError(SandboxError):
    code = "output_too_large"
    default_message = "The strategy produced more output than allowed."


class ChildCrashedError(SandboxError):
    """The process died of a signal while the user's code ran (before that it is ours)."""

    code = "child_crashed"
    default_message = "The strategy's process crashed while running your code."


class SandboxCancelledError(SandboxError):
    code = "cancelled"
    default_message = "The run was cancelled."


class InvalidOutputError(SandboxError):
    code = "invalid_output"
    default_message = "The sandboxed process returned a malformed result."
    user_fault = False


class SandboxInternalError(SandboxError):
    """Our bug (an EngineError, an unexpected exception, a broken child), never the user's.

    The message is always the generic default: the details may hold text the user's code
    produced, so they go to the server's log only.
    """

    code = "internal_error"
    default_message = "The backtest engine failed; this is not caused by your strategy."
    user_fault = False


ERRORS_BY_CODE: dict[str, type[SandboxError]] = {
    cls.code: cls
    for cls in (
        StrategySyntaxError,
        ForbiddenConstructError,
        StrategyRuntimeError,
        CpuTimeLimitError,
        WallClockLimitError,
        MemoryLimitError,
        OutputTooLargeError,
        ChildCrashedError,
        SandboxCancelledError,
        InvalidOutputError,
        SandboxInternalError,
    )
}

# Codes the jailed child may report about itself; anything else it claims is invalid output,
# so a compromised child cannot, say, forge a "cancelled" or an infrastructure error.
CHILD_REPORTABLE_CODES = frozenset(
    {"syntax_error", "forbidden_construct", "runtime_error", "memory_limit", "internal_error"}
)
