"""The two error families of the engine: the user's fault versus ours."""

from __future__ import annotations


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
