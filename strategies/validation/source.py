"""Turns AST positions (UTF-8 byte columns) into what users see (character columns)."""

from __future__ import annotations

import ast

from strategies.validation.limits import LINE_BREAK_RE
from strategies.validation.results import Problem


class Locator:
    """Builds problems located at AST nodes of one source text."""

    def __init__(self, code: str) -> None:
        self._lines = LINE_BREAK_RE.split(code)

    def column(self, lineno: int, col_offset: int) -> int:
        """1-based character column of a 0-based UTF-8 byte offset on a 1-based line."""
        if not 1 <= lineno <= len(self._lines) or col_offset < 0:
            return max(col_offset, 0) + 1
        prefix = self._lines[lineno - 1].encode("utf-8")[:col_offset]
        return len(prefix.decode("utf-8", errors="ignore")) + 1

    def at(self, node: ast.AST, code: str, message: str) -> Problem:
        lineno = getattr(node, "lineno", 0) or 0
        col_offset = getattr(node, "col_offset", 0) or 0
        if lineno <= 0:
            return Problem(0, 0, code, message)
        return Problem(lineno, self.column(lineno, col_offset), code, message)
