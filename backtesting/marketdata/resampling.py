"""Serving finer bars as a coarser timeframe (1m -> 5m/1h/1d, 1d -> 1w). Django-free.

A bucket's bar is (first open, max high, min low, last close, summed volume), labelled with the
bucket's start. Intraday buckets align to the UTC epoch (a 1h bucket is [10:00, 11:00) UTC).
Daily buckets are sessions: the calendar date in the instrument's time zone, labelled 00:00 UTC
of that date like imported daily bars, so a New York 15:59 bar stays on its own day instead of
spilling into tomorrow's UTC date. Weeks start on Monday.
"""

from __future__ import annotations

import numpy as np

from backtesting.engine import BarSeries
from backtesting.marketdata.arrays import empty_series
from backtesting.marketdata.sessions import local_days
from backtesting.marketdata.timeframes import DAY_NS, Timeframe

# 1970-01-01 was a Thursday: shifting by 3 days makes week numbers start on Mondays.
_MONDAY_SHIFT = 3


def bucket_starts(
    timestamps: np.ndarray, source: Timeframe, target: Timeframe, tz_name: str
) -> np.ndarray:
    """The label (int64 ns) of the target bucket each source bar falls into."""
    ts = np.asarray(timestamps, dtype=np.int64)
    if target.is_intraday:
        step = target.nanoseconds
        return ts // step * step
    days = local_days(ts, tz_name) if source.is_intraday else ts // DAY_NS
    if target is Timeframe.W1:
        days = (days + _MONDAY_SHIFT) // 7 * 7 - _MONDAY_SHIFT
    return days * DAY_NS


def resample(bars: BarSeries, source: Timeframe, target: Timeframe, tz_name: str) -> BarSeries:
    """Aggregate `bars` (of timeframe `source`, sorted) into `target` bars."""
    if target not in {*source_targets(source)}:
        raise ValueError(f"cannot resample {source.value} bars into {target.value}")
    if len(bars) == 0:
        return empty_series(bars.symbol)
    keys = bucket_starts(bars.timestamps, source, target, tz_name)
    starts = np.concatenate(([0], np.flatnonzero(np.diff(keys)) + 1))
    ends = np.concatenate((starts[1:], [keys.size])) - 1
    return BarSeries(
        bars.symbol,
        keys[starts],
        bars.open[starts],
        np.maximum.reduceat(bars.high, starts),
        np.minimum.reduceat(bars.low, starts),
        bars.close[ends],
        np.add.reduceat(bars.volume, starts),
    )


def source_targets(source: Timeframe) -> list[Timeframe]:
    return [tf for tf in Timeframe if source in tf.finer()]
