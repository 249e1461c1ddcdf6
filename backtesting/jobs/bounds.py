"""Bounds on the user-controlled text a job row keeps: the second line of defence.

The sandbox bounds what crosses its pipe; these bound what is stored, whatever path the text
took (a new error type, an engine message, a child that lied), because every detail response
serves the row whole and a worker that builds a 25 MB row keeps the memory.
"""

from __future__ import annotations

import json
from typing import Any

# One way to cut text: the sandbox's, which also makes it storable (no NUL, no lone surrogate).
from backtesting.sandbox.bounds import text_bound

MAX_MESSAGE_CHARS = 5_000  # error_message and error_details.message
MAX_LOG_CHARS = 65_536  # sandbox_log (the strategy's print output)
MAX_LINE_CHARS = 500  # one traceback line, one string inside a problem
MAX_TRACEBACK_LINES = 50  # the last ones: the frame that raised is at the end
MAX_ITEMS = 50  # problems, and any list or object inside error details
MAX_DEPTH = 4
MAX_DETAILS_BYTES = 32 * 1024  # the whole error_details document, as JSON


def json_bound(value: Any, depth: int = MAX_DEPTH, items: int = MAX_ITEMS) -> Any:
    """A JSON value with every string, list and object cut to the limits above."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return text_bound(value, MAX_LINE_CHARS)
    if depth <= 0:
        return "…"
    if isinstance(value, dict):
        pairs = list(value.items())[:items]
        return {text_bound(k, 100): json_bound(v, depth - 1, items) for k, v in pairs}
    if isinstance(value, list | tuple):
        return [json_bound(v, depth - 1, items) for v in list(value)[:items]]
    return text_bound(value, MAX_LINE_CHARS)


def traceback_bound(lines: Any, keep: int = MAX_TRACEBACK_LINES) -> list[str]:
    """The last `keep` lines, each bounded, after a line saying what was left out."""
    if not isinstance(lines, list | tuple):
        return []
    kept = [text_bound(line, MAX_LINE_CHARS) for line in lines[-keep:]]
    if len(lines) > keep:
        omitted = len(lines) - keep
        kept.insert(0, f"… [truncated: {omitted:,} earlier lines of {len(lines):,} lines]")
    return kept


def error_details_bound(details: dict[str, Any]) -> dict[str, Any]:
    """Error details fit to be stored on the row and served: at most MAX_DETAILS_BYTES of JSON.

    Many items, each within the limits, can still add up: then fewer items are kept (the first
    problems, the last traceback lines), and at worst only the code and the message.
    """
    for items in (MAX_ITEMS, 10, 3):
        bounded = _details_bound(details, items)
        if _json_size(bounded) <= MAX_DETAILS_BYTES:
            return bounded
    return {
        "code": text_bound(details.get("code", ""), 64),
        "message": text_bound(details.get("message", ""), MAX_MESSAGE_CHARS),
        "truncated": "The rest of the details was too large to keep.",
    }


def _details_bound(details: dict[str, Any], items: int) -> dict[str, Any]:
    bounded: dict[str, Any] = {}
    for key, value in list(details.items())[:MAX_ITEMS]:
        if key == "message":
            bounded[key] = text_bound(value, MAX_MESSAGE_CHARS)
        elif key == "traceback":
            bounded[key] = traceback_bound(value, min(items, MAX_TRACEBACK_LINES))
        else:
            bounded[text_bound(key, 100)] = json_bound(value, items=items)
    problems = details.get("problems")
    if isinstance(problems, list) and len(problems) > items:
        bounded["problems_omitted"] = len(problems) - items
    return bounded


def _json_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode())
