"""The one byte form of bar columns: the market-data cache, the sandbox pipe and the fingerprint.

All three use these functions, so what is cached, what the jailed child reads and what a
backtest's `data_fingerprint` covers cannot drift apart. Pure NumPy; no pickle. The layout
(little-endian, every section starts on an 8-byte boundary so columns decode without copies):

    header   magic b"TPBA" | u16 version (2) | u16 reserved (0) | u32 series count S
             | u32 timeframe length T | T bytes timeframe (UTF-8), zero-padded to 8
    S times  u64 row count N | u32 symbol length L | u32 reserved (0)
             | L bytes symbol (UTF-8), zero-padded to 8
             | N int64 timestamps (ns since the epoch, UTC) | N float64 open, high, low,
               close, volume (one column after the other)

Decoding checks every length, the padding and that nothing trails, so one set of columns has
exactly one encoding: `fingerprint_bars` is SHA-256 over exactly these bytes. Version 1 was the
old cache-only layout (no symbol, no timeframe); it is refused, not guessed at.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from backtesting.engine.bars import FIELDS, BarSeries

MAGIC = b"TPBA"
VERSION = 2
COLUMNS: tuple[tuple[str, str], ...] = (
    ("timestamps", "<i8"),
    *((name, "<f8") for name in FIELDS),
)
_HEADER = struct.Struct("<4sHHII")
_SERIES = struct.Struct("<QII")
_ROW_BYTES = 8 * len(COLUMNS)
_MAX_TEXT_BYTES = 1024  # a symbol or a timeframe; far above any real one


class BarCodecError(ValueError):
    """The bytes are not a bar payload this code can read (foreign, short, corrupt, versioned)."""


class BarsLike(Protocol):
    """What encoding needs: BarSeries, BarColumns, or anything with the six columns.

    Read-only members, so frozen dataclasses such as BarSeries match.
    """

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


@dataclass(frozen=True, eq=False)
class BarColumns:
    """One symbol's decoded columns: read-only views of the payload, not yet validated."""

    symbol: str
    timestamps: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.timestamps)

    def columns(self) -> dict[str, np.ndarray]:
        """{column name: array} in COLUMNS order."""
        return {name: getattr(self, name) for name, _ in COLUMNS}

    def to_series(self) -> BarSeries:
        """The engine's BarSeries; raises EngineError when the bars are not valid bars."""
        return BarSeries(self.symbol, **self.columns())


def encode_bars_chunks(timeframe: str, bars: Mapping[str, BarsLike]) -> list[bytes]:
    """The encoding as chunks, in order (lets a pipe or a hash skip one big join)."""
    chunks = [_HEADER.pack(MAGIC, VERSION, 0, len(bars), len(_text(timeframe)))]
    chunks.append(_padded(_text(timeframe)))
    for symbol, series in bars.items():
        length = len(series.timestamps)
        for name, _ in COLUMNS:
            if len(getattr(series, name)) != length:
                raise BarCodecError(f"{symbol}: column {name} has a different length")
        chunks += [_SERIES.pack(length, len(_text(symbol)), 0), _padded(_text(symbol))]
        chunks += [
            np.ascontiguousarray(getattr(series, name), dtype=dtype).tobytes()
            for name, dtype in COLUMNS
        ]
    return chunks


def encode_bars(timeframe: str, bars: Mapping[str, BarsLike]) -> bytes:
    """`bars` ({symbol: columns}, in order) of one timeframe as one payload."""
    return b"".join(encode_bars_chunks(timeframe, bars))


def fingerprint_bars(timeframe: str, bars: Mapping[str, BarsLike]) -> str:
    """SHA-256 (hex) over exactly encode_bars(timeframe, bars): equal means identical inputs."""
    digest = hashlib.sha256()
    for chunk in encode_bars_chunks(timeframe, bars):
        digest.update(chunk)
    return digest.hexdigest()


def decode_bars(payload: bytes) -> tuple[str, dict[str, BarColumns]]:
    """(timeframe, {symbol: BarColumns}) from encode_bars' bytes; BarCodecError otherwise.

    The arrays are views of `payload`; given `bytes` they can never be made writable.
    """
    if not isinstance(payload, bytes):
        raise BarCodecError(f"a bar payload is bytes, not {type(payload).__name__}")
    if len(payload) < _HEADER.size:
        raise BarCodecError("bar payload truncated (no header)")
    magic, version, reserved, count, tf_len = _HEADER.unpack_from(payload)
    if magic != MAGIC:
        raise BarCodecError("not a bar payload (bad magic)")
    if version != VERSION:
        raise BarCodecError(f"bar payload version {version} is not supported (reads {VERSION})")
    if reserved:
        raise BarCodecError("bar payload header is corrupt")
    timeframe, offset = _read_text(payload, _HEADER.size, tf_len, "timeframe")
    out: dict[str, BarColumns] = {}
    for _ in range(count):
        series, offset = _read_series(payload, offset)
        if series.symbol in out:
            raise BarCodecError(f"bar payload repeats symbol {series.symbol!r}")
        out[series.symbol] = series
    if offset != len(payload):
        raise BarCodecError("bar payload has trailing bytes")
    return timeframe, out


def _read_series(payload: bytes, offset: int) -> tuple[BarColumns, int]:
    if len(payload) - offset < _SERIES.size:
        raise BarCodecError("bar payload truncated (series header)")
    rows, symbol_len, reserved = _SERIES.unpack_from(payload, offset)
    if reserved:
        raise BarCodecError("bar payload series header is corrupt")
    symbol, offset = _read_text(payload, offset + _SERIES.size, symbol_len, "symbol")
    # Compared before any array exists, so a huge claimed row count costs nothing.
    if rows > (len(payload) - offset) // _ROW_BYTES:
        raise BarCodecError(f"bar payload truncated ({symbol!r} claims {rows} rows)")
    columns = {}
    for name, dtype in COLUMNS:
        columns[name] = np.frombuffer(payload, dtype=dtype, count=rows, offset=offset)
        offset += 8 * rows
    return BarColumns(symbol, **columns), offset


def _read_text(payload: bytes, offset: int, size: int, what: str) -> tuple[str, int]:
    if size > _MAX_TEXT_BYTES:
        raise BarCodecError(f"bar payload {what} is too long")
    end = offset + _padded_size(size)
    if end > len(payload):
        raise BarCodecError(f"bar payload truncated ({what})")
    if any(payload[offset + size : end]):
        raise BarCodecError(f"bar payload {what} padding is corrupt")
    try:
        return payload[offset : offset + size].decode(), end
    except UnicodeDecodeError:
        raise BarCodecError(f"bar payload {what} is not UTF-8") from None


def _text(value: str) -> bytes:
    raw = str(value).encode()
    if len(raw) > _MAX_TEXT_BYTES:
        raise BarCodecError(f"{value[:40]!r}... is too long for a bar payload")
    return raw


def _padded(raw: bytes) -> bytes:
    return raw + bytes(_padded_size(len(raw)) - len(raw))


def _padded_size(size: int) -> int:
    return -(-size // 8) * 8
