"""The one resampler: OHLCV bars into coarser bars, by bar count or by the instrument's calendar.

Used by strategies (``indicators.resample_ohlc``) and by market data (serving 1m bars as 1h, 1d
or 1w), so both agree on what a bucket is:

- Intraday buckets (``'15min'``, ``'4h'``) align to the UTC epoch: a 1h bucket is [10:00, 11:00).
- Days (``'D'``), weeks (``'W'``, starting Monday) and months (``'M'``) are sessions: the calendar
  date of each bar in the instrument's time zone ``tz`` (an IANA name), so a New York bar at
  19:30 local time (00:30 UTC the next day) stays on its own day. ``tz="UTC"`` gives UTC days.
- Each bucket is labelled with its start: the UTC instant for intraday buckets, 00:00 UTC of
  the session date for days, weeks and months (which is how daily bars are stored).

The calendar itself (time zones, local dates) is ``backtesting.engine.sessions``.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

from backtesting.engine.sessions import DAY_NS, HOUR_NS, local_days, local_midnight_utc

_UNIT_NS = {"s": 10**9, "min": 60 * 10**9, "h": HOUR_NS}
# 1970-01-01 was a Thursday; weekly buckets start on Monday 1970-01-05 (day 4).
_FIRST_MONDAY = 4
_RULE_RE = re.compile(r"^(\d*)(s|min|h|D|W|M)$")


class Resampled(NamedTuple):
    """Higher-timeframe bars built from base bars.

    ``timestamps`` is each bucket's first base timestamp; ``first_index``/``last_index`` the base
    bars it covers; ``available_index`` the first base bar at whose close the bar is known to be
    finished (``n_base`` when it never is inside the data, e.g. a trailing partial bucket);
    ``labels`` each bucket's start (see the module docstring; the first timestamp for bar counts).
    """

    timestamps: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    first_index: np.ndarray
    last_index: np.ndarray
    available_index: np.ndarray
    n_base: int
    labels: np.ndarray


# --------------------------------------------------------------------------- buckets


def _parse_rule(rule: str) -> tuple[int, str]:
    match = _RULE_RE.match(rule)
    if not match:
        raise ValueError(f"unknown resample rule {rule!r}; use e.g. '15min', '4h', 'D', 'W', 'M'")
    count = int(match.group(1) or 1)
    if count < 1:
        raise ValueError(f"resample rule {rule!r} needs a multiple >= 1")
    return count, match.group(2)


def _bar_keys(ts: np.ndarray, count: int, unit: str, tz: str) -> np.ndarray:
    """Bucket number of every bar (equal for bars of one bucket, increasing with time)."""
    if unit in _UNIT_NS:
        return ts // (count * _UNIT_NS[unit])
    days = local_days(ts, tz)
    if unit == "D":
        return days // count
    if unit == "W":
        return (days - _FIRST_MONDAY) // (7 * count)
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return months // count


def _first_day(keys: np.ndarray, count: int, unit: str) -> np.ndarray:
    """Session day number on which each D/W/M bucket starts."""
    if unit == "D":
        return keys * count
    if unit == "W":
        return keys * 7 * count + _FIRST_MONDAY
    months = (keys * count).astype("datetime64[M]")
    return months.astype("datetime64[D]").astype(np.int64)


def _bucket_bounds(
    keys: np.ndarray, count: int, unit: str, tz: str
) -> tuple[np.ndarray, np.ndarray]:
    """(label, end as a UTC instant) of each bucket number in ``keys``."""
    if unit in _UNIT_NS:
        width = count * _UNIT_NS[unit]
        return keys * width, (keys + 1) * width
    start, end = _first_day(keys, count, unit), _first_day(keys + 1, count, unit)
    return start * DAY_NS, local_midnight_utc(end, tz)


def _rule_groups(ts: np.ndarray, rule: str, tz: str) -> tuple[np.ndarray, ...]:
    """(first bar of each bucket, bar at which it is available, bucket labels)."""
    count, unit = _parse_rule(rule)
    key = _bar_keys(ts, count, unit, tz)
    n = len(ts)
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    last = np.append(starts[1:], n) - 1
    labels, end = _bucket_bounds(key[starts], count, unit, tz)
    # A bucket is over once a bar opens at/after its end. Without the next bar we can still
    # tell when the last bar itself spans the end (bar length = smallest timestamp step).
    step = int(np.min(np.diff(ts))) if n > 1 else 0
    spans_end = ts[last] + step >= end
    return starts, np.where(spans_end, last, np.append(starts[1:], n)), labels


def _count_groups(ts: np.ndarray, factor: int) -> tuple[np.ndarray, ...]:
    # bool is an int subclass; a factor of True is almost certainly a bug.
    if isinstance(factor, bool) or not isinstance(factor, int | np.integer) or factor < 1:
        raise ValueError(f"factor must be an integer >= 1, got {factor!r}")
    n = len(ts)
    starts = np.arange(0, n, int(factor))
    last = np.minimum(starts + factor, n) - 1
    complete = (last - starts + 1) == factor
    # With a bar-count rule the bucket is finished at its factor-th bar; a short tail never is.
    return starts, np.where(complete, last, n), ts[starts]


# --------------------------------------------------------------------------- resampling


def _columns(*arrays: object) -> list[np.ndarray]:
    names = ("open", "high", "low", "close", "volume")
    cols = [np.asarray(a, dtype=np.float64) for a in arrays]
    for name, col in zip(names, cols, strict=True):
        if col.ndim != 1:
            raise ValueError(f"{name} must be a 1-D array, got {col.ndim} dimensions")
    return cols


def resample_bars(
    timestamps: np.ndarray,
    open: object,
    high: object,
    low: object,
    close: object,
    volume: object,
    factor_or_rule: int | str,
    tz: str = "UTC",
) -> Resampled:
    """Aggregate base bars into higher-timeframe bars without look-ahead.

    ``factor_or_rule``: an int groups that many consecutive bars (from the first bar); a string
    groups by calendar buckets: ``'<n>s'``, ``'<n>min'``, ``'<n>h'`` (UTC-aligned), ``'<n>D'``,
    ``'<n>W'`` (weeks starting Monday), ``'<n>M'`` (calendar months), days, weeks and months in
    the session calendar of the IANA zone ``tz``. A bucket's bar is (first open, max high,
    min low, last close, summed volume). Raises ValueError on bad input.
    """
    ts = np.asarray(timestamps, dtype=np.int64)
    o, h, lo, c, v = _columns(open, high, low, close, volume)
    lengths = {"timestamps": len(ts), "open": len(o), "high": len(h), "low": len(lo)}
    lengths |= {"close": len(c), "volume": len(v)}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{k}={n}" for k, n in lengths.items())
        raise ValueError(f"input arrays must have the same length ({detail})")
    if len(ts) == 0:
        raise ValueError("cannot resample an empty series")
    if np.any(np.diff(ts) <= 0):
        raise ValueError("timestamps must be strictly increasing")
    if isinstance(factor_or_rule, str):
        starts, available, labels = _rule_groups(ts, factor_or_rule, tz)
    else:
        starts, available, labels = _count_groups(ts, factor_or_rule)
    last = np.append(starts[1:], len(ts)) - 1
    return Resampled(
        timestamps=ts[starts],
        open=o[starts],
        high=np.maximum.reduceat(h, starts),
        low=np.minimum.reduceat(lo, starts),
        close=c[last],
        volume=np.add.reduceat(v, starts),
        first_index=starts,
        last_index=last,
        available_index=available,
        n_base=len(ts),
        labels=labels,
    )
