"""The cache's byte form of a bar series, and small helpers around the engine's BarSeries.

Market data hands the engine exactly the type it runs on (`backtesting.engine.BarSeries`),
so there is one bar-array type in the project. Django-free.
"""

from __future__ import annotations

import struct

import numpy as np

from backtesting.engine import BarSeries
from backtesting.engine.bars import FIELDS

# Header: magic, format version, row count. Then the raw little-endian columns back to back.
_HEADER = struct.Struct("<4sHQ")
_MAGIC = b"TPBA"


def empty_series(symbol: str) -> BarSeries:
    floats = [np.empty(0, dtype=np.float64) for _ in FIELDS]
    return BarSeries(symbol, np.empty(0, dtype=np.int64), *floats)


def series_slice(bars: BarSeries, start: int, stop: int) -> BarSeries:
    return BarSeries(
        bars.symbol,
        bars.timestamps[start:stop],
        *(getattr(bars, name)[start:stop] for name in FIELDS),
    )


def series_to_bytes(bars: BarSeries) -> bytes:
    """Raw column bytes (no pickle): a cache hit is a memcpy per column, no object rebuilds."""
    parts = [
        _HEADER.pack(_MAGIC, 1, len(bars)),
        np.ascontiguousarray(bars.timestamps, "<i8").tobytes(),
    ]
    parts += [np.ascontiguousarray(getattr(bars, name), "<f8").tobytes() for name in FIELDS]
    return b"".join(parts)


def series_from_bytes(symbol: str, blob: bytes) -> BarSeries:
    magic, version, n = _HEADER.unpack_from(blob)
    if magic != _MAGIC or version != 1 or len(blob) != _HEADER.size + 48 * n:
        raise ValueError("not a cached bar series")
    columns = np.frombuffer(blob, dtype="<f8", offset=_HEADER.size).reshape(6, n)
    return BarSeries(symbol, columns[0].view("<i8"), *columns[1:])
