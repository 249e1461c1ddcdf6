"""Work derived only from the bars is kept between runs (a sweep runs hundreds over the same
bars): the statistics' calendar and a single instrument's alignment. What is kept must never
show in a result: every run reports what it would have reported alone."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from backtesting.engine import BarSeries
from backtesting.engine import metrics as m
from backtesting.engine.bars import align_bars

HOUR = 3_600 * 10**9
DAY = 24 * HOUR
MON_2024_01_01 = 1_704_067_200 * 10**9  # a Monday


def _stamps() -> np.ndarray:
    """Hourly bars 09:00-16:00 on the weekdays of three weeks, and two on Saturday 6 January."""
    days = [d for d in range(19) if d % 7 < 5] + [5]
    stamps = [MON_2024_01_01 + d * DAY + h * HOUR for d in days for h in range(9, 17)]
    stamps = sorted(stamps)
    saturday = [s for s in stamps if (s - MON_2024_01_01) // DAY == 5]
    return np.array([s for s in stamps if s not in saturday[2:]], dtype=np.int64)


def _report(ts: np.ndarray) -> dict[str, m.StatValue]:
    n = len(ts)
    rng = np.random.default_rng(7)
    equity = 100.0 * np.cumprod(1.0 + rng.normal(0.0, 0.01, n))
    return m.compute_statistics(
        timestamps=ts,
        equity=equity,
        exposure=np.full(n, 0.5),
        trade_pnl=np.array([1.0, -2.0, 3.0]),
        trade_return=np.array([0.01, -0.02, 0.03]),
        trade_bars=np.array([1.0, 2.0, 3.0]),
        trade_duration_ns=np.array([1.0, 2.0, 3.0]) * HOUR,
        benchmark_close=equity[::-1].copy(),
    )


def _alone(ts: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> dict[str, m.StatValue]:
    """The report computed with nothing kept from an earlier one."""
    with monkeypatch.context() as patch:
        patch.setattr(m, "_memo", None)
        return _report(ts)


@pytest.mark.parametrize("skip", [0, 1, 8, 20, 45, 100])
def test_a_report_over_a_later_window_of_the_same_stamps_is_the_report_alone(
    skip: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ts = _stamps()
    _report(ts)  # the full stamps first, as a sweep's first run may leave them
    window = ts[skip:]
    assert _report(window) == _alone(window, monkeypatch)


@pytest.mark.parametrize(("skip", "periods"), [(0, 365), (41, 365), (42, 252), (60, 252)])
def test_a_window_past_the_only_saturday_is_a_weekday_market_again(skip: int, periods: int) -> None:
    ts = _stamps()  # bars 40 and 41 are the only Saturday ones
    _report(ts)
    assert _report(ts[skip:])["periods_per_year"] == periods


def test_stamps_changed_in_place_get_the_calendar_of_their_new_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ts = _stamps()
    before = _report(ts)
    ts[40:] += 10 * HOUR  # the same array object: later bars move past midnight, days regroup
    after = _report(ts)
    assert after == _alone(ts, monkeypatch)
    assert after != before


def test_stamps_that_are_no_longer_increasing_are_refused_after_a_valid_report() -> None:
    ts = _stamps()
    _report(ts)
    ts[50] = ts[49]
    with pytest.raises(ValueError, match="strictly increasing"):
        _report(ts)
    with pytest.raises(ValueError, match="non-empty"):
        _report(_stamps()[:0])


def test_a_calendar_handed_out_cannot_be_written_through() -> None:
    ts = _stamps()
    _, calendar = m._calendar(ts)
    with pytest.raises(ValueError, match="read-only"):
        calendar.day_last[0] = 5


def _series(close: np.ndarray) -> BarSeries:
    n = len(close)
    ts = MON_2024_01_01 + np.arange(n, dtype=np.int64) * DAY
    return BarSeries("X", ts, close.copy(), close + 1.0, close - 1.0, close.copy(), np.ones(n))


def test_aligning_a_series_again_shows_its_current_prices() -> None:
    series = _series(np.linspace(10.0, 20.0, 30))
    first = align_bars({"X": series})
    series.close[:] = 15.0  # a writeable series changed between two runs
    again = align_bars({"X": series})
    assert np.array_equal(again.close[0], np.full(30, 15.0))
    assert np.array_equal(first.close[0], again.close[0])
    assert not again.close.flags.writeable and not again.has_bar.flags.writeable


def test_a_series_no_longer_used_is_not_kept_alive_by_its_alignment() -> None:
    series = _series(np.linspace(10.0, 20.0, 30))
    align_bars({"X": series})
    ref = weakref.ref(series)
    del series
    gc.collect()
    assert ref() is None
