"""What the market-data chart shows: bars bucketed down to a drawable number, and gaps. Django-free.

Bucketing is for display only: each candle aggregates `per_candle` consecutive bars (open of the
first, highest high, lowest low, close of the last, summed volume), so a long 1m series draws as
at most `max_candles` candles with every extreme kept. It is not the timeframe resampler
(`resampling.resample`), whose buckets are calendar periods a strategy trades on.

Gaps reuse the import's count of missing bars (`validation.find_gaps`: trading time only,
weekends and nights never count) with a display threshold of its own, `GAP_MAX_MISSING`: the
import refuses a file with more than four missing sessions, while a chart should show any hole
longer than a holiday.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backtesting.engine import BarSeries
from backtesting.marketdata.timeframes import Timeframe
from backtesting.marketdata.validation import DEFAULT_MAX_MISSING, SeriesRules
from backtesting.marketdata.validation import _missing_between as missing_between

MAX_CANDLES = 2000
# Daily: one or two weekdays without a bar are a holiday or a short closure (NYSE shut for
# two days for Hurricane Sandy); three or more is a hole in the data worth marking.
# Weekly: any missing week. Intraday: the import's limits, within one trading day.
GAP_MAX_MISSING = {**DEFAULT_MAX_MISSING, Timeframe.D1: 2, Timeframe.W1: 0}
GAP_RULE_TEXT = {
    "daily": "three or more weekdays in a row without a bar (any three days for crypto); "
    "weekends never count, and a one- or two-day holiday is not a gap",
    "weekly": "a week without a bar",
    "intraday": "more bars missing within one trading day than the import allows "
    "(1m: 30, 5m: 12, 15m: 8, 1h: 4, 4h: 2); nights and weekends never count",
}


@dataclass(frozen=True)
class Candles:
    """`bars` bucketed: `per_candle` source bars per candle (1 = not bucketed)."""

    bars: BarSeries
    per_candle: int
    source_bars: int


@dataclass(frozen=True)
class Gap:
    """Consecutive bars `before` and `after` (ns) with `missing` bars' worth of time between."""

    before: int
    after: int
    missing: int


def candles_bucket(bars: BarSeries, max_candles: int | None = None) -> Candles:
    """Aggregate runs of consecutive bars so that at most `max_candles` (MAX_CANDLES) remain."""
    max_candles = max_candles or MAX_CANDLES
    n = len(bars)
    per_candle = max(1, -(-n // max_candles))  # ceil
    if per_candle == 1:
        return Candles(bars, 1, n)
    starts = np.arange(0, n, per_candle)
    ends = np.append(starts[1:], n) - 1
    bucketed = BarSeries(
        bars.symbol,
        bars.timestamps[starts],
        bars.open[starts],
        np.maximum.reduceat(bars.high, starts),
        np.minimum.reduceat(bars.low, starts),
        bars.close[ends],
        np.add.reduceat(bars.volume, starts),
    )
    return Candles(bucketed, per_candle, n)


def gaps_find(bars: BarSeries, timeframe: Timeframe, tz_name: str, *, crypto: bool) -> list[Gap]:
    """Holes in `bars` longer than a closure explains (GAP_MAX_MISSING), oldest first."""
    ts = bars.timestamps
    if len(ts) < 2:
        return []
    # The import's own count of missing trading-time bars, so the two never disagree on what
    # a missing session is; only the threshold differs.
    missing = missing_between(ts, SeriesRules(timeframe, tz_name, crypto, 0))
    holes = np.flatnonzero(missing > GAP_MAX_MISSING[timeframe])
    return [Gap(int(ts[i]), int(ts[i + 1]), int(missing[i])) for i in holes]


def gap_rule_text(timeframe: Timeframe) -> str:
    if timeframe is Timeframe.D1:
        return GAP_RULE_TEXT["daily"]
    if timeframe is Timeframe.W1:
        return GAP_RULE_TEXT["weekly"]
    return GAP_RULE_TEXT["intraday"]


def candle_index(candles: Candles, timestamp_ns: int) -> int:
    """The candle whose bucket holds the bar at `timestamp_ns` (where a gap marker goes)."""
    starts = candles.bars.timestamps
    return max(0, int(np.searchsorted(starts, timestamp_ns, side="right")) - 1)
