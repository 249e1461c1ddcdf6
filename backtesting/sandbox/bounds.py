"""Bounds on the user-controlled text that crosses from the child into the worker.

The child applies them before sending (so 25 MB never crosses the pipe) and the worker applies
them again where it reads the child's output (the child ran next to user code, so it is not
trusted to have done so). Text is also made storable: PostgreSQL text and jsonb refuse NUL
characters, and psycopg cannot encode lone surrogates. docs/sandbox.md lists the limits.
"""

from __future__ import annotations

import re
from typing import Any

MAX_MESSAGE_CHARS = 2_000  # an error's message
MAX_TRACEBACK_LINES = 20  # the last ones: the frame that raised is at the end
MAX_TRACEBACK_LINE_CHARS = 200  # "line N, in name": a function name can be very long
MAX_PROBLEMS = 20  # validator findings on one strategy: the first ones
MAX_PROBLEM_CODE_CHARS = 64
MAX_PROBLEM_MESSAGE_CHARS = 300  # a finding's message quotes names from the code
MAX_LOG_LINES = 1_000  # print() output; its byte budget is SandboxLimits.log_bytes
PROBLEM_INT_FIELDS = ("line", "column")
PROBLEM_TEXT_FIELDS = {"code": MAX_PROBLEM_CODE_CHARS, "message": MAX_PROBLEM_MESSAGE_CHARS}
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL and lone surrogates (chr(0xD800))


def storable(text: str) -> str:
    """`text` with the characters a database cannot store replaced by U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", text)


def text_bound(value: object, limit: int) -> str:
    """`value` as storable text of at most `limit` characters, saying how long it was if cut."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= limit:
        return storable(text)
    marker = f" … [truncated: {len(text):,} characters in all]"
    return storable(text[: max(limit - len(marker), 0)]) + marker


def traceback_bound(lines: Any) -> list[str]:
    """The last MAX_TRACEBACK_LINES lines of a list, each bounded; anything else gives []."""
    if not isinstance(lines, list):
        return []
    kept = lines[-MAX_TRACEBACK_LINES:]
    return [text_bound(line, MAX_TRACEBACK_LINE_CHARS) for line in kept]


def problems_bound(problems: Any) -> list[dict[str, Any]]:
    """Validator findings: the first MAX_PROBLEMS, each reduced to its known, bounded fields."""
    if not isinstance(problems, list):
        return []
    bounded = []
    for problem in problems[:MAX_PROBLEMS]:
        if not isinstance(problem, dict):
            continue
        item: dict[str, Any] = {}
        for name in PROBLEM_INT_FIELDS:
            value = problem.get(name)
            item[name] = value if isinstance(value, int) and not isinstance(value, bool) else 0
        for name, limit in PROBLEM_TEXT_FIELDS.items():
            item[name] = text_bound(problem.get(name, ""), limit)
        bounded.append(item)
    return bounded


def log_bound(text: Any, max_bytes: int, max_lines: int = MAX_LOG_LINES) -> tuple[str, bool]:
    """print() output cut to `max_lines` lines and `max_bytes` of UTF-8; (text, was_cut)."""
    if not isinstance(text, str):
        return "", False
    text = storable(text)  # first: U+FFFD takes three bytes where NUL took one
    cut = False
    if text.count("\n") > max_lines:
        text = "\n".join(text.split("\n", max_lines)[:max_lines]) + "\n"
        cut = True
    encoded = text.encode("utf-8", "replace")
    if len(encoded) > max_bytes:
        text = encoded[:max_bytes].decode("utf-8", "ignore")
        cut = True
    return text, cut
