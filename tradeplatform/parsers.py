"""The API's JSON parser: DRF's, with the nesting of a body bounded.

`'[' * 100_000` makes the stdlib decoder raise RecursionError, which DRF does not catch:
a 500 that anyone could cause without logging in. Far shallower nesting still parses and
then reaches code that recurses (serializers, the jsonb adapter), so the depth is bounded
as well: no request the API accepts is nested deeper than MAX_JSON_DEPTH.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_JSON_DEPTH = 64
_TOO_DEEP = f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels."


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
