"""Reading OHLCV CSV files (plain or gzip) in the common layouts into arrays. Django-free.

Recognised headers, in any case and with spaces/underscores ignored: a time column (Date,
Datetime, Timestamp, Time, or Date + Time), Open/High/Low/Close (or O/H/L/C), optional Volume
(Vol, V) and optional Adj Close. A first column with an empty header holding times is the
time column (pandas' `df.to_csv()` of a date-indexed frame). Times may be ISO-8601 dates or
datetimes, YYYYMMDD, or unix seconds or milliseconds.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import IO, Any

import numpy as np

from backtesting.engine.sessions import zone
from backtesting.marketdata.timeframes import DAY_NS, Timeframe

_ALIASES = {
    "date": "date",
    "day": "date",
    "datetime": "datetime",
    "timestamp": "datetime",
    "time": "time",
    "open": "open",
    "o": "open",
    "high": "high",
    "h": "high",
    "low": "low",
    "l": "low",
    "close": "close",
    "c": "close",
    "last": "close",
    "volume": "volume",
    "vol": "volume",
    "v": "volume",
    "adjclose": "adj_close",
    "adjustedclose": "adj_close",
}
# Unix times at or above this are milliseconds: 1e11 s is the year 5138, 1e11 ms is 1973.
_MS_THRESHOLD = 100_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file; `line` is the 1-based line in the file (header = 1)."""

    line: int | None
    code: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "code": self.code, "message": self.message}


class FileFormatError(ValueError):
    """The file as a whole cannot be read (not CSV, no header we recognise, no time column)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass
class ParsedBars:
    """Rows that parsed, as arrays in file order, plus the rows that did not."""

    lines: np.ndarray
    timestamps: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    adj_close: np.ndarray | None
    problems: list[Problem] = field(default_factory=list)
    rows_read: int = 0


@dataclass(frozen=True)
class _Layout:
    columns: dict[str, int]
    has_adj_close: bool


# What reading the stream itself can raise: bad text, a broken or truncated gzip, bad CSV.
_UNREADABLE = (UnicodeDecodeError, gzip.BadGzipFile, EOFError, zlib.error, csv.Error)


class _TooLargeError(Exception):
    """The CSV text passed the size cap while being read."""


class _SizeCapped(io.RawIOBase):
    """Reads through `inner` and stops past `limit` bytes of CSV text.

    The upload cap bounds the compressed bytes only; a small gzip can inflate to gigabytes,
    and every parsed row is held in memory. So the cap applies to the text itself.
    """

    def __init__(self, inner: IO[bytes], limit: int) -> None:
        self._inner, self._limit, self._read = inner, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        self._read += len(data)
        if self._read > self._limit:
            raise _TooLargeError
        buffer[: len(data)] = data
        return len(data)


def open_text(source: IO[bytes] | bytes, max_bytes: int | None = None) -> io.TextIOBase:
    """Text view of a plain or gzip-compressed CSV, told apart by gzip's magic bytes; reading
    past `max_bytes` of (decompressed) text raises _TooLargeError."""
    raw = io.BytesIO(source) if isinstance(source, bytes) else source
    head = raw.read(2)
    raw.seek(0)
    stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw  # type: ignore[assignment]
    if max_bytes is not None:
        stream = io.BufferedReader(_SizeCapped(stream, max_bytes))
    return io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")


def detect_layout(header: list[str], first_row: list[str] | None = None) -> _Layout:
    """Map our column names to positions in `header`; FileFormatError when one is missing.

    A first column with an empty header is the time column when it holds a time in
    `first_row`: that is how pandas writes a frame indexed by date (`df.to_csv()`).
    """
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        key = _ALIASES.get(name.strip().lower().replace(" ", "").replace("_", "").replace("-", ""))
        if key and key not in columns:
            columns[key] = index
    has_time = bool({"date", "datetime", "time"} & columns.keys())
    if not has_time and header and not header[0].strip() and _is_time(first_row):
        columns["datetime"] = 0
    missing = [name for name in ("open", "high", "low", "close") if name not in columns]
    if not ({"date", "datetime"} & columns.keys() or "time" in columns):
        missing.insert(0, "date/datetime/timestamp")
    if missing:
        raise FileFormatError(
            Problem(1, "missing_column", f"Header lacks required column(s): {', '.join(missing)}.")
        )
    return _Layout(columns, "adj_close" in columns)


def parse_bars(
    source: IO[bytes] | bytes,
    *,
    timeframe: Timeframe,
    tz_name: str,
    use_adj_close: bool = False,
    max_bytes: int | None = None,
) -> ParsedBars:
    """Parse every data row; rows that fail become Problems, the rest become arrays.

    Naive datetimes are read in `tz_name`; daily and weekly bars are stamped 00:00 UTC of their
    session date (the date in `tz_name`) so that instruments in different zones align by date.
    With `use_adj_close`, open/high/low are scaled by adj_close/close and close becomes adj_close.
    Raises FileFormatError when the file as a whole is unusable, or holds more than
    `max_bytes` of CSV text once decompressed.
    """
    reader = csv.reader(open_text(source, max_bytes))
    try:
        try:
            header = next(reader)
        except (StopIteration, *_UNREADABLE) as exc:
            raise FileFormatError(
                Problem(1, "unreadable", f"Not a readable CSV file ({exc}).")
            ) from exc
        try:
            return _parse_after_header(reader, header, timeframe, tz_name, use_adj_close)
        except _UNREADABLE as exc:  # a gzip stream cut short or corrupt past the header
            raise FileFormatError(
                Problem(None, "unreadable", f"Not a readable CSV file ({exc}).")
            ) from exc
    except _TooLargeError:
        mib = (max_bytes or 0) / (1024 * 1024)
        raise FileFormatError(
            Problem(
                None,
                "too_large",
                f"The file holds more than {mib:g} MiB of CSV text once decompressed; "
                "split it into several imports.",
            )
        ) from None


def _parse_after_header(
    reader: Iterator[list[str]],
    header: list[str],
    timeframe: Timeframe,
    tz_name: str,
    use_adj_close: bool,
) -> ParsedBars:
    records = _PeekableRows(reader)
    layout = detect_layout(header, first_row=records.peek())
    if use_adj_close and not layout.has_adj_close:
        raise FileFormatError(
            Problem(
                1,
                "missing_column",
                "Adjusted prices were requested but there is no Adj Close column.",
            )
        )
    rows, problems, read = _parse_rows(records, layout, timeframe, zone(tz_name))
    arr = np.array(rows, dtype=np.float64).reshape(-1, 8) if rows else np.empty((0, 8))
    parsed = ParsedBars(
        lines=arr[:, 0].astype(np.int64),
        timestamps=np.array([r[1] for r in rows], dtype=np.int64),  # exact: ns exceed float53
        open=arr[:, 2],
        high=arr[:, 3],
        low=arr[:, 4],
        close=arr[:, 5],
        volume=arr[:, 6],
        adj_close=arr[:, 7] if layout.has_adj_close else None,
        problems=problems,
        rows_read=read,
    )
    if use_adj_close:
        _apply_adjustment(parsed)
    return parsed


def _apply_adjustment(parsed: ParsedBars) -> None:
    assert parsed.adj_close is not None
    o, h, low, c = parsed.open, parsed.high, parsed.low, parsed.close
    raw_ok = (low <= np.minimum(o, c)) & (h >= np.maximum(o, c))
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = parsed.adj_close / c
    parsed.open, parsed.high, parsed.low = o * factor, h * factor, low * factor
    parsed.close = parsed.adj_close.copy()
    # Scaling rounds: a raw bar with low == close can come out with low a hair above the new
    # close. Clamp those rows only; a bar that was inconsistent before is still rejected.
    body_low = np.minimum(parsed.open, parsed.close)
    body_high = np.maximum(parsed.open, parsed.close)
    parsed.low = np.where(raw_ok, np.minimum(parsed.low, body_low), parsed.low)
    parsed.high = np.where(raw_ok, np.maximum(parsed.high, body_high), parsed.high)


def _parse_rows(
    reader: Iterator[list[str]], layout: _Layout, timeframe: Timeframe, tz: object
) -> tuple[list[tuple], list[Problem], int]:
    rows: list[tuple] = []
    problems: list[Problem] = []
    read = 0
    daily = not timeframe.is_intraday
    for line, record in enumerate(reader, start=2):
        if not record or all(not cell.strip() for cell in record):
            continue
        read += 1
        try:
            rows.append((line, *_parse_record(record, layout, daily, tz)))
        except (ValueError, IndexError, OverflowError) as exc:
            problems.append(Problem(line, "parse_error", str(exc)))
    return rows, problems, read


def _parse_record(record: list[str], layout: _Layout, daily: bool, tz: object) -> tuple:
    cols = layout.columns
    ts = _parse_time(record, cols, daily, tz)
    values = []
    for name in ("open", "high", "low", "close"):
        values.append(_parse_float(record[cols[name]], name))
    volume = _parse_float(record[cols["volume"]], "volume") if "volume" in cols else 0.0
    adj = _parse_float(record[cols["adj_close"]], "adj close") if layout.has_adj_close else math.nan
    return (ts, *values, volume, adj)


def _parse_float(text: str, name: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"{name} is not a number: {text.strip()!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} is not a finite number: {text.strip()!r}")
    return value


def _parse_time(record: list[str], cols: dict[str, int], daily: bool, tz: object) -> int:
    if "datetime" in cols:
        text = record[cols["datetime"]].strip()
    elif "date" in cols and "time" in cols:
        text = f"{record[cols['date']].strip()} {record[cols['time']].strip()}"
    else:
        text = record[cols.get("date", cols.get("time", 0))].strip()
    moment = _parse_moment(text, tz)
    if daily:
        session = moment.astimezone(tz).date() if isinstance(moment, datetime) else moment  # type: ignore[arg-type]
        return (session - date(1970, 1, 1)).days * DAY_NS
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=tz)  # type: ignore[arg-type]
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _parse_moment(text: str, tz: object) -> datetime | date:
    """A date (no time of day) or an aware datetime."""
    if not text:
        raise ValueError("the time is empty")
    if text.isdigit() and len(text) == 8 and 1800 <= int(text[:4]) <= 2200:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    if _looks_numeric(text):
        number = float(text)
        seconds = number / 1000 if abs(number) >= _MS_THRESHOLD else number
        return datetime.fromtimestamp(seconds, UTC)
    cleaned = text.replace("/", "-").replace("Z", "+00:00")
    try:
        if len(cleaned) == 10:
            return date.fromisoformat(cleaned)
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ValueError(f"unrecognised date/time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)  # type: ignore[arg-type]


def _is_time(row: list[str] | None) -> bool:
    if not row:
        return False
    try:
        _parse_moment(row[0].strip(), UTC)
    except (ValueError, OverflowError, OSError):
        return False
    return True


class _PeekableRows(Iterator[list[str]]):
    """The CSV rows with the first non-blank one visible before iteration starts."""

    def __init__(self, rows: Iterator[list[str]]) -> None:
        self._rows = rows
        self._buffer: list[list[str]] = []
        self._error: Exception | None = None

    def peek(self) -> list[str] | None:
        try:
            while True:
                row = next(self._rows)
                self._buffer.append(row)
                if row and any(cell.strip() for cell in row):
                    return row
        except StopIteration:
            return None
        except (csv.Error, UnicodeDecodeError) as exc:
            self._error = exc  # raised where the rows are read, as without the peek
            return None

    def __next__(self) -> list[str]:
        if self._buffer:
            return self._buffer.pop(0)
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return next(self._rows)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
