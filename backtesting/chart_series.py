"""A finished backtest's chart series, down-sampled for display (pure NumPy; no database).

A chart is a few hundred to two thousand pixels wide: sending a million points would cost
seconds of JSON and drawing for nothing a person can see. So:

- Lines (equity, drawdown, the benchmark) keep, per bucket of consecutive points, the lowest
  and the highest value (in time order), plus the first and last point of the series: the
  drawn line has the same envelope, the same global minimum and maximum and the same ends.
- Candles are consecutive bars aggregated into buckets (open of the first, highest high,
  lowest low, close of the last, summed volume) by the engine's one resampler, so a candle
  means what a resampled bar means everywhere else.
- Trade markers are never thinned: every entry and exit keeps its real time and price and
  is drawn on the bucket (candle) that contains its time.

A series no longer than the limit comes back unchanged. The full equity series stays
available as CSV (backtesting.views.charts). Loading what these functions take (bars,
trades, the stored curve) is backtesting.chart_data's job.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypedDict

import numpy as np

from backtesting.engine import BarSeries
from backtesting.engine.resample import resample_bars

# Enough for a wide screen at one point per pixel, small enough to parse and draw at once.
DISPLAY_POINTS = 2000
# Candles need a few pixels each to read as candles: at most this many are drawn.
DISPLAY_CANDLES = 2000
NS_PER_SECOND = 1_000_000_000
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class ChartPoint(TypedDict):
    time: int  # seconds since the epoch (UTC): lightweight-charts' UTCTimestamp
    value: float


class Candle(TypedDict):
    time: int
    open: float
    high: float
    low: float
    close: float


class TradeMarker(TypedDict):
    time: int  # the start of the candle holding the event: where the chart can draw it
    at: int  # the event's own time (seconds), exact
    price: float  # the fill price, exact
    kind: str  # "entry" or "exit"
    direction: str  # the trade's: "long" or "short"
    seq: int  # the trade's number, as in the trades table
    pnl_pct: float | None  # the trade's net return in percent (exits only)


@dataclass(frozen=True)
class TradeEvent:
    """One entry or exit of a trade, as read from the trades table."""

    seq: int
    kind: str
    direction: str
    time_ns: int
    price: float
    pnl_pct: float | None = None


class MonthlyRow(TypedDict):
    year: int
    months: list[float | None]  # percent per calendar month, None where the run has no data
    total: float  # the year's compounded return in percent


class HistogramBin(TypedDict):
    low: float  # percent, inclusive
    high: float  # percent, exclusive (the last bin includes its high)
    count: int


class TradeReturns(TypedDict):
    bins: list[HistogramBin]
    winners: int
    losers: int
    mean: float | None  # percent
    count: int


def series_downsample(values: np.ndarray, limit: int = DISPLAY_POINTS) -> np.ndarray:
    """Sorted indices into `values` (finite floats) to draw: at most `limit` of them.

    Keeps index 0, the last index and each bucket's argmin and argmax; every index when
    `len(values) <= limit`.
    """
    n = len(values)
    if n <= limit:
        return np.arange(n)
    if limit < 4:
        raise ValueError("a down-sampled series needs room for its ends and one bucket")
    inner = values[1:-1]
    buckets = (limit - 2) // 2
    edges = np.linspace(0, len(inner), buckets + 1).astype(np.int64)
    starts = edges[:-1][edges[:-1] < edges[1:]]  # drop empty buckets (never, with n > limit)
    lows = np.minimum.reduceat(inner, starts)
    highs = np.maximum.reduceat(inner, starts)
    bucket_of = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(inner))))
    # The first index in each bucket holding that bucket's minimum (and maximum).
    low_at = _first_match(inner == lows[bucket_of], bucket_of, len(starts))
    high_at = _first_match(inner == highs[bucket_of], bucket_of, len(starts))
    picked = np.concatenate(([0], low_at + 1, high_at + 1, [n - 1]))
    return np.unique(picked)


def _first_match(hits: np.ndarray, bucket_of: np.ndarray, buckets: int) -> np.ndarray:
    positions = np.flatnonzero(hits)
    first = np.full(buckets, -1, dtype=np.int64)
    # Assigning in reverse leaves each bucket's earliest position in place.
    first[bucket_of[positions[::-1]]] = positions[::-1]
    return first


def chart_series(
    timestamps_ns: np.ndarray, values: np.ndarray, limit: int = DISPLAY_POINTS
) -> list[ChartPoint]:
    """[{time, value}] of the finite points of one series, down-sampled to `limit`."""
    finite = np.isfinite(values)
    times = timestamps_ns[finite] // NS_PER_SECOND
    kept = values[finite]
    picked = series_downsample(kept, limit)
    return [
        ChartPoint(time=int(t), value=float(v))
        for t, v in zip(times[picked].tolist(), kept[picked].tolist(), strict=True)
    ]


def benchmark_equity(
    timestamps_ns: np.ndarray, equity: np.ndarray, bars: BarSeries
) -> tuple[np.ndarray, np.ndarray]:
    """Buy-and-hold of `bars` as equity at the curve's times, starting at the curve's start.

    At each curve time the benchmark holds its last close at or before that time (the engine
    carries a missing bar's close forward the same way); times before its first bar are
    dropped. Returns (timestamps_ns, values); empty arrays when nothing lines up.
    """
    if len(bars) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0)
    at = np.searchsorted(bars.timestamps, timestamps_ns, side="right") - 1
    covered = (at >= 0) & np.isfinite(equity)
    if not covered.any():
        return np.empty(0, dtype=np.int64), np.empty(0)
    close = bars.close[at[covered]]
    # Same start value as the strategy: both lines answer "what became of the same money".
    start_value = float(equity[np.flatnonzero(covered)[0]])
    return timestamps_ns[covered], close / close[0] * start_value


def candles_bucketed(bars: BarSeries, limit: int = DISPLAY_CANDLES) -> BarSeries:
    """`bars` with every run of `ceil(n / limit)` consecutive bars merged into one candle.

    Each candle is stamped with its first bar's time. At most `limit` candles; `bars` itself
    when it is no longer than that.
    """
    n = len(bars)
    if n <= limit:
        return bars
    factor = -(-n // limit)
    out = resample_bars(
        bars.timestamps, bars.open, bars.high, bars.low, bars.close, bars.volume, factor
    )
    return BarSeries(bars.symbol, out.timestamps, out.open, out.high, out.low, out.close,
                     out.volume)  # fmt: skip


def candle_points(candles: BarSeries) -> tuple[list[Candle], list[ChartPoint]]:
    """([{time, open, high, low, close}], [{time, value: volume}]) for the chart library."""
    times = (candles.timestamps // NS_PER_SECOND).tolist()
    columns = zip(
        times,
        candles.open.tolist(),
        candles.high.tolist(),
        candles.low.tolist(),
        candles.close.tolist(),
        strict=True,
    )
    ohlc = [Candle(time=t, open=o, high=h, low=lo, close=c) for t, o, h, lo, c in columns]
    volume = [
        ChartPoint(time=t, value=v) for t, v in zip(times, candles.volume.tolist(), strict=True)
    ]
    return ohlc, volume


def indicator_points(
    bar_times_ns: np.ndarray,
    candle_times_ns: np.ndarray,
    times_ns: np.ndarray,
    values: np.ndarray,
) -> list[ChartPoint]:
    """One point per candle for an indicator line: its value at the candle's last bar.

    `bar_times_ns` are the symbol's bars, `candle_times_ns` their candles (candles_bucketed),
    `times_ns`/`values` the indicator over the run's bars. A candle's point is stamped with the
    candle's time, like the candle; candles where the indicator has no value (warm-up) get none.
    """
    if len(candle_times_ns) == 0 or len(times_ns) == 0:
        return []
    # A candle's last bar is the one just before the next candle's first bar.
    ends = np.append(np.searchsorted(bar_times_ns, candle_times_ns[1:], side="left") - 1,
                     len(bar_times_ns) - 1)  # fmt: skip
    at = np.searchsorted(times_ns, bar_times_ns[ends], side="right") - 1
    picked = np.where(at >= 0, values[np.maximum(at, 0)], np.nan)
    finite = np.isfinite(picked)
    times = (candle_times_ns[finite] // NS_PER_SECOND).tolist()
    return [
        ChartPoint(time=t, value=v) for t, v in zip(times, picked[finite].tolist(), strict=True)
    ]


def trade_markers(events: Iterable[TradeEvent], candle_times_ns: np.ndarray) -> list[TradeMarker]:
    """One marker per event, on the candle whose bucket holds its time, sorted by time.

    A candle covers [its time, the next candle's time); an event before the first candle (not
    expected: trades happen on the run's bars) goes on the first one.
    """
    ordered = sorted(events, key=lambda e: (e.time_ns, e.kind != "exit", e.seq))
    if not ordered or len(candle_times_ns) == 0:
        return []
    stamps = np.array([e.time_ns for e in ordered], dtype=np.int64)
    at = np.maximum(np.searchsorted(candle_times_ns, stamps, side="right") - 1, 0)
    starts = (candle_times_ns[at] // NS_PER_SECOND).tolist()
    return [
        TradeMarker(
            time=start,
            at=e.time_ns // NS_PER_SECOND,
            price=e.price,
            kind=e.kind,
            direction=e.direction,
            seq=e.seq,
            pnl_pct=e.pnl_pct,
        )
        for start, e in zip(starts, ordered, strict=True)
    ]


def monthly_returns(
    timestamps_ns: np.ndarray, equity: np.ndarray, initial_cash: float
) -> list[MonthlyRow]:
    """Each calendar month's (UTC) return in percent: its last equity over the previous
    month's last equity, the first month's over the initial cash; a row per year with the
    year's compounded total (last equity of the year over the previous year's, or the cash).
    """
    finite = np.isfinite(equity)
    stamps, values = timestamps_ns[finite], equity[finite]
    if len(values) == 0:
        return []
    months = stamps.astype("datetime64[ns]").astype("datetime64[M]").astype(np.int64)
    last = np.flatnonzero(np.append(months[1:] != months[:-1], True))
    month_end = values[last]
    previous = np.concatenate(([initial_cash], month_end[:-1]))
    returns = (month_end / previous - 1.0) * 100.0
    month_numbers = months[last].tolist()  # months since 1970-01
    rows: dict[int, MonthlyRow] = {}
    year_start = initial_cash
    for i, (month, ret) in enumerate(zip(month_numbers, returns.tolist(), strict=True)):
        year = 1970 + month // 12
        row = rows.setdefault(year, MonthlyRow(year=year, months=[None] * 12, total=0.0))
        row["months"][month % 12] = ret
        end = float(month_end[i])
        row["total"] = (end / year_start - 1.0) * 100.0
        if i + 1 == len(month_numbers) or 1970 + month_numbers[i + 1] // 12 != year:
            year_start = end  # the next year compounds from this year's last equity
    return list(rows.values())


def trade_return_histogram(returns_pct: np.ndarray, max_bins: int = 40) -> TradeReturns:
    """Trade returns (percent) counted in bins of a round width, with 0 always on an edge,
    so a bin holds only gains or only losses (a bin starting at 0 counts as gains)."""
    values = returns_pct[np.isfinite(returns_pct)]
    n = len(values)
    if n == 0:
        return TradeReturns(bins=[], winners=0, losers=0, mean=None, count=0)
    lo, hi = float(values.min()), float(values.max())
    wanted = min(max_bins, max(5, math.ceil(math.sqrt(n))))
    width = _round_width((hi - lo) / wanted if hi > lo else max(abs(hi), 1.0) / 5)
    first = math.floor(lo / width)
    last = math.floor(hi / width) + 1  # the bin holding hi ends above it
    edges = np.arange(first, last + 1) * width
    counts, _ = np.histogram(values, bins=edges)
    bins = [
        HistogramBin(low=float(a), high=float(b), count=int(c))
        for a, b, c in zip(edges[:-1], edges[1:], counts, strict=True)
    ]
    return TradeReturns(
        bins=bins,
        winners=int((values > 0).sum()),
        losers=int((values < 0).sum()),
        mean=float(values.mean()),
        count=n,
    )


def _round_width(raw: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is >= raw."""
    power = 10.0 ** math.floor(math.log10(raw))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if step * power >= raw * (1 - 1e-9):
            return step * power
    return 10.0 * power
