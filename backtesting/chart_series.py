"""A finished backtest's equity and drawdown as chart series, down-sampled for display.

A chart is a few hundred to two thousand pixels wide: sending a million points would cost
seconds of JSON and drawing for nothing a person can see. Down-sampling keeps, per bucket of
consecutive points, the lowest and the highest value (in time order), plus the first and
last point of the series, so the drawn line has the same envelope, the same global minimum
and maximum and the same ends as the full series. A series no longer than the limit comes
back unchanged. The full series stays available from the equity API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

import numpy as np

from backtesting.curves import CURVE_SERIES

if TYPE_CHECKING:
    from backtesting.models import BacktestResult

# Enough for a wide screen at one point per pixel, small enough to parse and draw at once.
DISPLAY_POINTS = 2000


class ChartPoint(TypedDict):
    time: int  # seconds since the epoch (UTC): lightweight-charts' UTCTimestamp
    value: float


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
    times = timestamps_ns[finite] // 1_000_000_000
    kept = values[finite]
    picked = series_downsample(kept, limit)
    return [
        ChartPoint(time=int(t), value=float(v))
        for t, v in zip(times[picked].tolist(), kept[picked].tolist(), strict=True)
    ]


def backtest_chart_data(result: BacktestResult | None) -> dict[str, list[ChartPoint]]:
    """{"equity": [...], "drawdown": [...]} of a result; empty lists when it has no curve
    (still queued or running, failed, or a run that stored none)."""
    if result is None or result.timestamps is None:
        return {name: [] for name in CURVE_SERIES}
    stamps = np.frombuffer(bytes(result.timestamps), dtype="<i8")
    series: dict[str, list[ChartPoint]] = {}
    for name in CURVE_SERIES:
        raw = getattr(result, name)
        values = np.frombuffer(bytes(raw), dtype="<f8") if raw is not None else np.empty(0)
        series[name] = chart_series(stamps[: len(values)], values)
    return series
