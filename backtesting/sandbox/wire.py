"""The byte formats between the worker and the jailed child: never pickle, only JSON and raw arrays.

Parent -> child (stdin): MAGIC, an 8-byte big-endian header length, a JSON header, then for each
instrument listed in the header the raw little-endian columns in COLUMNS order.
Child -> parent (stdout): one JSON object per line: started (the user's code runs from now on),
progress, then one result or error.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO, Protocol

import numpy as np

MAGIC = b"TPSANDBOX1\n"
HEADER_LEN = struct.Struct(">Q")
MAX_HEADER_BYTES = 16 * 1024 * 1024
COLUMNS: tuple[tuple[str, str], ...] = (
    ("timestamps", "<i8"),
    ("open", "<f8"),
    ("high", "<f8"),
    ("low", "<f8"),
    ("close", "<f8"),
    ("volume", "<f8"),
)
MESSAGE_TYPES = frozenset({"started", "progress", "result", "error"})


class BarsLike(Protocol):
    """What the sandbox needs from backtesting.engine.BarSeries (kept structural on purpose).

    Read-only members, so frozen dataclasses such as BarSeries match.
    """

    @property
    def symbol(self) -> str: ...
    @property
    def timestamps(self) -> Any: ...
    @property
    def open(self) -> Any: ...
    @property
    def high(self) -> Any: ...
    @property
    def low(self) -> Any: ...
    @property
    def close(self) -> Any: ...
    @property
    def volume(self) -> Any: ...


def encode_payload(header: dict[str, Any], bars: Mapping[str, BarsLike]) -> list[bytes]:
    """Chunks to write to the child's stdin, in order."""
    header = {**header, "bars": [_describe_series(sym, s) for sym, s in bars.items()]}
    head = json.dumps(header, allow_nan=False).encode()
    chunks = [MAGIC, HEADER_LEN.pack(len(head)), head]
    for series in bars.values():
        for name, dtype in COLUMNS:
            column = np.ascontiguousarray(getattr(series, name), dtype=dtype)
            chunks.append(column.tobytes())
    return chunks


def _describe_series(symbol: str, series: BarsLike) -> dict[str, Any]:
    length = len(series.timestamps)
    for name, _ in COLUMNS:
        if len(getattr(series, name)) != length:
            raise ValueError(f"{symbol}: column {name} has a different length")
    return {"symbol": str(symbol), "length": length}


def decode_payload(stream: BinaryIO) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """Read what encode_payload wrote; arrays come back read-only, backed by immutable bytes."""
    if _read_exact(stream, len(MAGIC)) != MAGIC:
        raise ValueError("bad payload magic")
    (head_len,) = HEADER_LEN.unpack(_read_exact(stream, HEADER_LEN.size))
    if head_len > MAX_HEADER_BYTES:
        raise ValueError("payload header too large")
    header = json.loads(_read_exact(stream, head_len))
    columns: dict[str, dict[str, np.ndarray]] = {}
    for item in header["bars"]:
        length = int(item["length"])
        columns[item["symbol"]] = {
            name: _read_array(stream, dtype, length) for name, dtype in COLUMNS
        }
    return header, columns


def _read_array(stream: BinaryIO, dtype: str, length: int) -> np.ndarray:
    # Backed by immutable bytes, so not even setflags(write=True) can make it writable again.
    array = np.frombuffer(_read_exact(stream, length * 8), dtype=dtype)
    array.setflags(write=False)
    return array


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
        message = json.loads(line, parse_constant=_reject_constant, parse_float=_finite_float)
        if not isinstance(message, dict) or message.get("type") not in MESSAGE_TYPES:
            raise ValueError("unknown message")
        yield message
