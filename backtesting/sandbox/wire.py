"""The byte formats between the worker and the jailed child: never pickle, only JSON and raw arrays.

Parent -> child (stdin): MAGIC, an 8-byte big-endian header length, a JSON header (with
"bars_bytes"), then that many bytes of bars in the bar codec's layout (backtesting.engine.barcodec,
the same bytes the market-data cache holds and the data fingerprint hashes).
Child -> parent (stdout): one JSON object per line: started (the user's code runs from now on),
progress, then one result or error.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

import numpy as np

from backtesting.engine.barcodec import BarsLike, decode_bars, encode_bars_chunks

MAGIC = b"TPSANDBOX2\n"
HEADER_LEN = struct.Struct(">Q")
MAX_HEADER_BYTES = 16 * 1024 * 1024
MESSAGE_TYPES = frozenset({"started", "progress", "result", "error"})
# Only a number with a three-digit exponent or with 200 digits in a row can parse to inf: with
# at most 199 digits and an exponent of at most 99 a literal stays below 1e299. A line with
# neither is parsed by json's C code alone; one with either checks every float in Python.
_MAY_OVERFLOW = re.compile(rb"[eE][+-]?[0-9]{3}|[0-9]{200}")


def encode_payload(
    header: dict[str, Any], bars: Mapping[str, BarsLike], *, timeframe: str = ""
) -> list[bytes]:
    """Chunks to write to the child's stdin, in order: the bars are the bar codec's bytes."""
    columns = encode_bars_chunks(timeframe, bars)
    header = {**header, "bars_bytes": sum(len(chunk) for chunk in columns)}
    head = json.dumps(header, allow_nan=False).encode()
    return [MAGIC, HEADER_LEN.pack(len(head)), head, *columns]


def decode_payload(stream: BinaryIO) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """Read what encode_payload wrote; arrays come back read-only, backed by immutable bytes.

    header["bars"] lists what arrived: [{"symbol", "length"}] in the payload's order.
    """
    if _read_exact(stream, len(MAGIC)) != MAGIC:
        raise ValueError("bad payload magic")
    (head_len,) = HEADER_LEN.unpack(_read_exact(stream, HEADER_LEN.size))
    if head_len > MAX_HEADER_BYTES:
        raise ValueError("payload header too large")
    header = json.loads(_read_exact(stream, head_len))
    size = header.get("bars_bytes") if isinstance(header, dict) else None
    if not isinstance(size, int) or size < 0:
        raise ValueError("payload header has no bars_bytes")
    # Backed by immutable bytes, so not even setflags(write=True) can make an array writable.
    _, series = decode_bars(_read_exact(stream, size))
    header["bars"] = [{"symbol": symbol, "length": len(s)} for symbol, s in series.items()]
    return header, {symbol: s.columns() for symbol, s in series.items()}


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            raise ValueError("payload truncated")
        data += chunk
    return bytes(data)


def encode_message(message: dict[str, Any]) -> bytes:
    """One protocol line; NaN/inf are refused so the parent never sees non-JSON numbers."""
    return json.dumps(message, allow_nan=False, separators=(",", ":")).encode() + b"\n"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _finite_float(text: str) -> float:
    # "1e999" is valid JSON but parses to inf, which a jsonb column refuses to store.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("a number out of the float range")
    return value


def iter_messages(buffer: bytearray) -> Iterator[dict[str, Any]]:
    """Pop complete lines from buffer and parse them; raises ValueError on malformed input."""
    while (end := buffer.find(b"\n")) >= 0:
        line = bytes(buffer[:end])
        del buffer[: end + 1]
        if _MAY_OVERFLOW.search(line):
            message = json.loads(line, parse_constant=_reject_constant, parse_float=_finite_float)
        else:
            message = json.loads(line, parse_constant=_reject_constant)
        if not isinstance(message, dict) or message.get("type") not in MESSAGE_TYPES:
            raise ValueError("unknown message")
        yield message
