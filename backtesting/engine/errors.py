"""The two error families of the engine: the user's fault versus ours."""

from __future__ import annotations

import reprlib
from typing import Any

# User values quoted in messages stay short: a message is for naming the value, not echoing it.
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 40
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 4
_SHORT.maxlevel = 2


class StrategyError(Exception):
    """The user's strategy is at fault (exception in init/next/signals, bad order arguments).

    ``traceback_lines`` holds only the frames of the user's code so the message shown to them
    never leaks engine internals.
    """

    def __init__(self, message: str, traceback_lines: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.traceback_lines: list[str] = list(traceback_lines or [])


class EngineError(Exception):
    """Our bug or inconsistent input (misaligned bars, invalid spec)."""


def shown(value: Any) -> str:
    """A short repr of a user-supplied value for an error message."""
    try:
        return _SHORT.repr(value)
    except Exception:  # a broken __repr__ must not turn the user's error into ours
        return f"<{type(value).__name__}>"
