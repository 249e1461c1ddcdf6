"""Keyset pagination for bars: the cursor is the timestamp of the next page's first bar.

Offsets would make page N cost N pages of index scan; a timestamp cursor costs one index seek
whatever the page, stays correct while imports add bars, and works the same for bars that are
resampled in memory (we search the array for the cursor instead of seeking the index).
"""

from __future__ import annotations

import base64
import binascii

from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.utils.urls import replace_query_param

CURSOR_PARAM = "cursor"


def encode_cursor(next_ns: int) -> str:
    return base64.urlsafe_b64encode(f"t:{next_ns}".encode()).decode().rstrip("=")


def decode_cursor(text: str | None) -> int | None:
    if not text:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind != "t":
            raise ValueError(raw)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError({CURSOR_PARAM: ["Invalid cursor."]}) from None


def next_link(request: Request, next_ns: int | None) -> str | None:
    if next_ns is None:
        return None
    return replace_query_param(request.build_absolute_uri(), CURSOR_PARAM, encode_cursor(next_ns))
