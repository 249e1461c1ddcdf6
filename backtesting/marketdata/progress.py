"""A tiny terminal progress bar for management commands (no dependency for one line of output)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TextIO, cast

if TYPE_CHECKING:
    from django.core.management.base import OutputWrapper


class TerminalProgress:
    """Callable(done, total) that redraws one line at most ~10 times a second, on a TTY only."""

    def __init__(self, stream: TextIO, label: str, *, width: int = 30) -> None:
        self.stream, self.label, self.width = stream, label, width
        self.enabled = bool(getattr(stream, "isatty", lambda: False)())
        self._last = 0.0

    @classmethod
    def on_command_output(cls, output: OutputWrapper, label: str) -> TerminalProgress:
        """A bar on a management command's stdout/stderr, drawn on the wrapped stream: the
        wrapper's write() would end every redraw with a newline."""
        # django-stubs omits OutputWrapper's `_out` (its __getattr__ types every unknown
        # attribute as a callable); Django sets it to the stream it was given.
        return cls(cast(TextIO, output._out), label)

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or (done < total and now - self._last < 0.1):
            return
        self._last = now
        filled = int(self.width * done / total) if total else self.width
        bar = "#" * filled + "-" * (self.width - filled)
        end = "\n" if done >= total else ""
        self.stream.write(f"\r{self.label} [{bar}] {done:,}/{total:,}{end}")
        self.stream.flush()
