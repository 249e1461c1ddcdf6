"""The API's JSON parser: DRF's, with the nesting of a body bounded and its text real text.

`'[' * 100_000` makes the stdlib decoder raise RecursionError, which DRF does not catch:
a 500 that anyone could cause without logging in. Far shallower nesting still parses and
then reaches code that recurses (serializers, the jsonb adapter), so the depth is bounded
as well: no request the API accepts is nested deeper than MAX_JSON_DEPTH.

JSON's `\ud800` escape decodes to a lone UTF-16 surrogate, a Python str that cannot be
encoded as UTF-8: any answer that echoes it ("'\ud800' is not a valid choice") failed to
render, a 500. A body with one is refused as malformed, like any other unreadable text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_JSON_DEPTH = 64
_TOO_DEEP = f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels."
_NOT_TEXT = "JSON parse error - a string holds a lone surrogate (\\ud800-\\udfff escape)."


class JSONParser(parsers.JSONParser):
    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_TOO_DEEP) from None
        if json_depth_exceeds(data, MAX_JSON_DEPTH):
            raise ParseError(_TOO_DEEP)
        if json_has_lone_surrogate(data):
            raise ParseError(_NOT_TEXT)
        return data


def json_depth_exceeds(data: Any, limit: int) -> bool:
    """Whether lists and objects in parsed JSON nest deeper than `limit` (walked, not recursed)."""
    stack: list[tuple[Any, int]] = [(data, 1)] if isinstance(data, (dict, list)) else []
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def json_has_lone_surrogate(data: Any) -> bool:
    """Whether a string (or object key) of parsed JSON holds a lone surrogate. A pair written
    as two escapes decodes to one character and passes; only unpaired halves remain."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False
