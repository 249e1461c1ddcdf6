"""BarArrays: one series as NumPy columns, and its compact byte form for the cache. Django-free."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

FIELDS = ("open", "high", "low", "close", "volume")
# Header: magic, format version, row count. Then the raw little-endian columns back to back.
_HEADER = struct.Struct("<4sHQ")
_MAGIC = b"TPBA"


@dataclass(frozen=True, eq=False)
class BarArrays:
    """Bars of one instrument, shaped like the engine's BarSeries.

    timestamps: int64 ns since the epoch (UTC), strictly increasing; the rest float64.
    """

    symbol: str
    timestamps: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return int(self.timestamps.size)

    @classmethod
    def empty(cls, symbol: str) -> BarArrays:
        floats = [np.empty(0, dtype=np.float64) for _ in FIELDS]
        return cls(symbol, np.empty(0, dtype=np.int64), *floats)

    def slice(self, start: int, stop: int) -> BarArrays:
        return BarArrays(
            self.symbol,
            self.timestamps[start:stop],
            *(getattr(self, name)[start:stop] for name in FIELDS),
        )

    def to_bytes(self) -> bytes:
        """Raw column bytes (no pickle): a cache hit is a memcpy per column, no object rebuilds."""
        parts = [
            _HEADER.pack(_MAGIC, 1, len(self)),
            np.ascontiguousarray(self.timestamps, "<i8").tobytes(),
        ]
        parts += [np.ascontiguousarray(getattr(self, name), "<f8").tobytes() for name in FIELDS]
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, symbol: str, blob: bytes) -> BarArrays:
        magic, version, n = _HEADER.unpack_from(blob)
        if magic != _MAGIC or version != 1 or len(blob) != _HEADER.size + 48 * n:
            raise ValueError("not a BarArrays blob")
        columns = np.frombuffer(blob, dtype="<f8", offset=_HEADER.size).reshape(6, n)
        timestamps = columns[0].view("<i8")
        return cls(symbol, timestamps, *columns[1:])

    def to_bar_series(self) -> Any:
        """The engine's BarSeries (imported lazily: the engine may evolve separately)."""
        from backtesting.engine.bars import BarSeries

        return BarSeries(
            self.symbol, self.timestamps, self.open, self.high, self.low, self.close, self.volume
        )
