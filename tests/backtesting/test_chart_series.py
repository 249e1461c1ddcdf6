"""Down-sampling the equity and drawdown series for the detail page's charts."""

from __future__ import annotations

import numpy as np
import pytest

from backtesting.chart_series import DISPLAY_POINTS, chart_series, series_downsample


def test_a_million_points_come_back_within_the_limit_with_extremes_and_ends_exact() -> None:
    rng = np.random.default_rng(7)
    values = np.cumsum(rng.normal(size=1_000_000)) + 1_000.0
    picked = series_downsample(values)
    assert len(picked) <= DISPLAY_POINTS
    assert picked[0] == 0 and picked[-1] == len(values) - 1
    assert np.all(np.diff(picked) > 0)  # in time order, no duplicates
    assert values[picked].min() == values.min() and values[picked].max() == values.max()
    assert values.argmin() in picked and values.argmax() in picked


def test_every_bucket_keeps_its_own_low_and_high() -> None:
    # A spike in the middle of a flat series must survive: it is what a person looks for.
    values = np.zeros(100_000)
    values[31_337] = -5.0
    values[77_777] = 9.0
    picked = series_downsample(values, limit=100)
    assert len(picked) <= 100
    assert 31_337 in picked and 77_777 in picked


def test_a_short_series_comes_back_exactly() -> None:
    values = np.array([3.0, 1.0, 2.0, 5.0])
    assert series_downsample(values, limit=4).tolist() == [0, 1, 2, 3]
    assert series_downsample(np.array([]), limit=10).tolist() == []


def test_a_limit_too_small_for_ends_and_a_bucket_is_refused() -> None:
    with pytest.raises(ValueError):
        series_downsample(np.arange(10.0), limit=3)


def test_chart_points_are_seconds_and_skip_non_finite_values() -> None:
    stamps = np.array([0, 86_400, 172_800], dtype=np.int64) * 1_000_000_000
    values = np.array([100.0, np.nan, 101.5])
    assert chart_series(stamps, values) == [
        {"time": 0, "value": 100.0},
        {"time": 172_800, "value": 101.5},
    ]
