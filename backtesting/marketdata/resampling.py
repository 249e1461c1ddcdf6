"""Serving finer bars as a coarser timeframe (1m -> 5m/1h/1d, 1d -> 1w). Django-free.

The bucketing is the engine's one resampler (``backtesting.engine.resample``), so market data and
strategies agree on what a day is: the instrument's session (its calendar date in its time zone),
not the UTC date. Buckets are labelled with their start, days and weeks at 00:00 UTC of the
session date like imported daily bars.
"""

from __future__ import annotations

from backtesting.engine import BarSeries
from backtesting.engine.resample import resample_bars
from backtesting.marketdata.arrays import empty_series
from backtesting.marketdata.timeframes import Timeframe

_RULES = {
    Timeframe.M5: "5min",
    Timeframe.M15: "15min",
    Timeframe.H1: "1h",
    Timeframe.H4: "4h",
    Timeframe.D1: "D",
    Timeframe.W1: "W",
}


def resample(bars: BarSeries, source: Timeframe, target: Timeframe, tz_name: str) -> BarSeries:
    """Aggregate `bars` (of timeframe `source`, sorted) into `target` bars.

    `tz_name` is the instrument's IANA time zone. Raises ValueError for a target that `source`
    does not divide evenly.
    """
    if target not in {*source_targets(source)}:
        raise ValueError(f"cannot resample {source.value} bars into {target.value}")
    if len(bars) == 0:
        return empty_series(bars.symbol)
    # Daily bars are already labelled with their session date (00:00 UTC), so weeks are built
    # from those dates as they are; only intraday bars still need the instrument's calendar.
    calendar = tz_name if source.is_intraday else "UTC"
    out = resample_bars(
        bars.timestamps, bars.open, bars.high, bars.low, bars.close, bars.volume,
        _RULES[target], calendar,
    )  # fmt: skip
    return BarSeries(bars.symbol, out.labels, out.open, out.high, out.low, out.close, out.volume)


def source_targets(source: Timeframe) -> list[Timeframe]:
    return [tf for tf in Timeframe if source in tf.finer()]
