"""The session calendar: which calendar day (in an instrument's time zone) a UTC timestamp is on.

An instrument's day is its session, not the UTC date: a New York bar at 19:30 local time
(00:30 UTC the next day) belongs to the New York date. Stdlib (zoneinfo) and NumPy only; market
data passes the instrument's IANA zone name as plain data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

HOUR_NS = 3_600_000_000_000
DAY_NS = 24 * HOUR_NS


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name; ValueError for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        # Strategies pass names too: a typo is bad input (ValueError), not zoneinfo's KeyError.
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name such as 'Europe/London'"
        ) from None


def _utc_offset_seconds(unix_seconds: int, tz: ZoneInfo) -> int:
    offset = datetime.fromtimestamp(unix_seconds, UTC).astimezone(tz).utcoffset()
    assert offset is not None  # an aware datetime always has one
    return int(offset.total_seconds())


def utc_offsets_ns(timestamps: np.ndarray, tz_name: str) -> np.ndarray:
    """UTC offset of each int64-ns timestamp in `tz_name`, in ns.

    Offsets only change on whole hours in every real zone we trade in, so they are looked up
    once per distinct UTC hour rather than once per bar (a million 1m bars span ~17k hours).
    """
    ts = np.asarray(timestamps, dtype=np.int64)
    if tz_name == "UTC" or ts.size == 0:
        return np.zeros(ts.shape, dtype=np.int64)
    tz = zone(tz_name)
    hours, inverse = np.unique(ts // HOUR_NS, return_inverse=True)
    offsets = np.fromiter(
        (_utc_offset_seconds(int(h) * 3600, tz) for h in hours),
        dtype=np.int64,
        count=hours.size,
    )
    return offsets[inverse].reshape(ts.shape) * 1_000_000_000


def local_days(timestamps: np.ndarray, tz_name: str) -> np.ndarray:
    """Days since the epoch of each timestamp's local calendar date in `tz_name`."""
    ts = np.asarray(timestamps, dtype=np.int64)
    return (ts + utc_offsets_ns(ts, tz_name)) // DAY_NS


def local_midnight_utc(days: np.ndarray, tz_name: str) -> np.ndarray:
    """The UTC instant (int64 ns) at which each local calendar day (days since epoch) starts."""
    local = np.asarray(days, dtype=np.int64) * DAY_NS
    # Two passes: the offset in force at the first guess is the one at local midnight unless a
    # DST switch lies within a few hours of midnight (exchanges' zones switch at 02:00 or later).
    guess = local - utc_offsets_ns(local, tz_name)
    return local - utc_offsets_ns(guess, tz_name)
