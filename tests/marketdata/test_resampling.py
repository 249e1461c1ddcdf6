"""Resampling against hand-computed bars (no database)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from backtesting.engine import BarSeries
from backtesting.engine.indicators import resample_ohlc
from backtesting.marketdata.resampling import resample
from backtesting.marketdata.timeframes import Timeframe


def ns(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()) * 1_000_000_000


def bars(stamps: list[int], rows: list[tuple[float, float, float, float, float]]) -> BarSeries:
    o, h, lo, c, v = (np.array(col, dtype=np.float64) for col in zip(*rows, strict=True))
    return BarSeries("X", np.array(stamps, dtype=np.int64), o, h, lo, c, v)


MINUTES = bars(
    [ns(2024, 1, 2, 14, m) for m in (30, 31, 32, 33, 34, 35, 36)],
    [
        (10, 11, 9, 10.5, 100),
        (10.5, 12, 10, 11, 200),
        (11, 11.5, 8, 9, 50),
        (9, 10, 8.5, 9.5, 10),
        (9.5, 9.8, 9.1, 9.2, 40),
        (9.2, 13, 9, 12, 300),  # opens the 14:35 bucket
        (12, 12.5, 11, 11.5, 5),
    ],
)


def test_one_minute_bars_become_five_minute_bars():
    out = resample(MINUTES, Timeframe.M1, Timeframe.M5, "America/New_York")
    assert out.timestamps.tolist() == [ns(2024, 1, 2, 14, 30), ns(2024, 1, 2, 14, 35)]
    assert out.open.tolist() == [10, 9.2]
    assert out.high.tolist() == [12, 13]
    assert out.low.tolist() == [8, 9]
    assert out.close.tolist() == [9.2, 11.5]
    assert out.volume.tolist() == [400, 305]


def test_one_minute_bars_become_one_hour_bars():
    out = resample(MINUTES, Timeframe.M1, Timeframe.H1, "UTC")
    assert out.timestamps.tolist() == [ns(2024, 1, 2, 14)]
    assert (out.open[0], out.high[0], out.low[0], out.close[0], out.volume[0]) == (
        10,
        13,
        8,
        11.5,
        705,
    )


def test_daily_bars_follow_the_instruments_session_not_the_utc_date():
    # 20:59 and 21:30 UTC on 2 Jan are 15:59 and 16:30 New York time: both the 2 Jan session,
    # although 00:30 UTC on 3 Jan (19:30 NY on 2 Jan) is also still 2 January in New York.
    src = bars(
        [
            ns(2024, 1, 2, 20, 59),
            ns(2024, 1, 2, 21, 30),
            ns(2024, 1, 3, 0, 30),
            ns(2024, 1, 3, 14, 30),
        ],
        [(10, 11, 9, 10, 1), (10, 12, 10, 11, 2), (11, 11, 7, 8, 3), (8, 9, 8, 9, 4)],
    )
    ny = resample(src, Timeframe.M1, Timeframe.D1, "America/New_York")
    assert ny.timestamps.tolist() == [ns(2024, 1, 2), ns(2024, 1, 3)]
    assert ny.open.tolist() == [10, 8]
    assert ny.high.tolist() == [12, 9]
    assert ny.low.tolist() == [7, 8]
    assert ny.close.tolist() == [8, 9]
    assert ny.volume.tolist() == [6, 4]
    utc = resample(src, Timeframe.M1, Timeframe.D1, "UTC")
    assert utc.timestamps.tolist() == [ns(2024, 1, 2), ns(2024, 1, 3)]
    assert utc.volume.tolist() == [3, 7]


def test_daily_bars_become_weeks_starting_on_monday():
    days = [ns(2024, 1, d) for d in (4, 5, 8, 9)]  # Thu, Fri, Mon, Tue
    src = bars(
        days, [(1, 2, 0.5, 1.5, 1), (1.5, 3, 1, 2, 1), (2, 2.5, 1.8, 2.2, 1), (2.2, 4, 2, 3, 1)]
    )
    out = resample(src, Timeframe.D1, Timeframe.W1, "America/New_York")
    assert out.timestamps.tolist() == [ns(2024, 1, 1), ns(2024, 1, 8)]
    assert out.high.tolist() == [3, 4]
    assert out.close.tolist() == [2, 3]


def test_resampling_into_a_finer_or_uneven_timeframe_is_refused():
    with pytest.raises(ValueError, match="cannot resample"):
        resample(MINUTES, Timeframe.H1, Timeframe.M5, "UTC")
    with pytest.raises(ValueError, match="cannot resample"):
        resample(MINUTES, Timeframe.M15, Timeframe.M5, "UTC")


@pytest.mark.parametrize(
    ("target", "rule"),
    [(Timeframe.D1, "D"), (Timeframe.W1, "W")],
)
def test_strategies_and_market_data_cut_new_york_days_and_weeks_at_the_same_place(target, rule):
    # Around midnight UTC and a Sunday evening in New York: 00:30 UTC on 3 Jan is 19:30 on 2 Jan
    # there, and 02:00 UTC on Monday 8 Jan is Sunday evening, still the week of 1 Jan. The
    # engine's resampler used to cut at UTC midnight while market data cut at the session.
    src = bars(
        [
            ns(2024, 1, 2, 20, 59),
            ns(2024, 1, 3, 0, 30),
            ns(2024, 1, 3, 14, 30),
            ns(2024, 1, 8, 2, 0),
            ns(2024, 1, 8, 15, 0),
        ],
        [
            (10, 11, 9, 10, 1),
            (11, 11, 7, 8, 2),
            (8, 9, 8, 9, 4),
            (9, 12, 9, 12, 8),
            (12, 13, 11, 13, 16),
        ],
    )
    served = resample(src, Timeframe.M1, target, "America/New_York")
    engine = resample_ohlc(
        src.timestamps, src.open, src.high, src.low, src.close, src.volume, rule, "America/New_York"
    )
    assert engine.labels.tolist() == served.timestamps.tolist()
    for column in ("open", "high", "low", "close", "volume"):
        assert getattr(engine, column).tolist() == getattr(served, column).tolist()
    if target is Timeframe.D1:
        days = [ns(2024, 1, 2), ns(2024, 1, 3), ns(2024, 1, 7), ns(2024, 1, 8)]
        assert served.timestamps.tolist() == days
        assert served.volume.tolist() == [3, 4, 8, 16]
    else:
        assert served.timestamps.tolist() == [ns(2024, 1, 1), ns(2024, 1, 8)]
        assert served.volume.tolist() == [15, 16]
