"""Checks that run before and right after parsing, so no input can stall the validator."""

from __future__ import annotations

import ast
import codecs
import re
import warnings
from collections.abc import Callable
from typing import Final

from strategies.validation.results import Problem

MAX_CODE_BYTES: Final = 100_000  # UTF-8 bytes
MAX_LINES: Final = 5_000
MAX_AST_DEPTH: Final = 100
MAX_AST_NODES: Final = 50_000

# PEP 263: the declaration counts only on the first two lines.
_CODING_RE: Final = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", re.ASCII)
# Python's own line breaks; str.splitlines() also splits on \x0c, \u2028 and others.
LINE_BREAK_RE: Final = re.compile(r"\r\n|\r|\n")


def check_source_text(code: str) -> list[Problem]:
    """Problems found without parsing: size, line count, NUL bytes and encodings.

    Cheap by design: they run before the parser sees an arbitrarily large input.
    """
    try:
        size = len(code.encode("utf-8"))
    except UnicodeEncodeError:
        return [
            Problem(
                0,
                0,
                "invalid_encoding",
                "the code contains characters that are not valid Unicode text (lone surrogates)",
            )
        ]
    if size > MAX_CODE_BYTES:
        return [
            Problem(
                0,
                0,
                "code_too_large",
                f"the code is {size:,} bytes long; the limit is {MAX_CODE_BYTES:,} bytes",
            )
        ]
    problems = []
    line_count = len(LINE_BREAK_RE.findall(code)) + 1
    if line_count > MAX_LINES:
        problems.append(
            Problem(
                0,
                0,
                "too_many_lines",
                f"the code has {line_count:,} lines; the limit is {MAX_LINES:,}",
            )
        )
    if "\x00" in code:
        line = code.count("\n", 0, code.index("\x00")) + 1
        problems.append(Problem(line, 1, "null_byte", "the code contains a NUL character"))
    problems.extend(_check_coding_declaration(code))
    return problems


def _check_coding_declaration(code: str) -> list[Problem]:
    # Python ignores the declaration for text it is handed as str, but a later
    # reader of the stored bytes might not: only UTF-8 means the same to both.
    for number, line in enumerate(LINE_BREAK_RE.split(code, maxsplit=2)[:2], start=1):
        match = _CODING_RE.match(line)
        if match is None:
            continue
        name = match.group(1)
        try:
            canonical = codecs.lookup(name).name
        except LookupError:
            canonical = ""
        if canonical != "utf-8":
            return [
                Problem(
                    number,
                    match.start(1) + 1,
                    "invalid_encoding",
                    f'the source encoding "{name}" is not allowed; strategy code must be UTF-8',
                )
            ]
    return []


def parse_source(code: str) -> ast.Module | Problem:
    """Parse ``code`` or explain why not; never raises for any str input."""
    try:
        with warnings.catch_warnings():
            # SyntaxWarnings ("invalid escape sequence") would leak to the worker's stderr.
            warnings.simplefilter("ignore")
            return ast.parse(code, filename="<strategy>", mode="exec")
    except SyntaxError as error:
        return _syntax_problem(error)
    except (RecursionError, MemoryError):
        # CPython's parser reports nesting beyond its C stack this way.
        return Problem(
            0,
            0,
            "too_deeply_nested",
            "the code is too deeply nested to be read "
            "(simplify long chained or nested expressions)",
        )
    except ValueError as error:
        return Problem(0, 0, "syntax_error", f"the code cannot be read: {error}")


def _syntax_problem(error: SyntaxError) -> Problem:
    message = error.msg or "invalid syntax"
    if "too many nested" in message or "too complex" in message:
        return Problem(
            error.lineno or 0,
            error.offset or 0,
            "too_deeply_nested",
            f"the code is too deeply nested ({message})",
        )
    kind = "indentation error" if isinstance(error, IndentationError) else "syntax error"
    return Problem(
        error.lineno or 0, max(error.offset or 0, 0), "syntax_error", f"{kind}: {message}"
    )


def check_tree_size(tree: ast.AST, locate: Callable[[ast.AST, str, str], Problem]) -> list[Problem]:
    """Depth and node count, measured without recursion (the tree may be deep)."""
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    count = 0
    deepest: tuple[int, ast.AST] = (0, tree)
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_AST_NODES:
            return [
                Problem(
                    0,
                    0,
                    "too_many_nodes",
                    "the code is too large to analyse (more "
                    f"than {MAX_AST_NODES:,} syntax elements)",
                )
            ]
        if depth > deepest[0]:
            deepest = (depth, node)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    depth, node = deepest
    if depth > MAX_AST_DEPTH:
        return [
            locate(
                node,
                "too_deeply_nested",
                f"the code is nested {depth} levels deep; "
                f"the limit is {MAX_AST_DEPTH} (split long expressions into steps)",
            )
        ]
    return []
