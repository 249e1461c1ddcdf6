"""Walk-forward: window arithmetic against a hand-worked example, stitching, efficiency."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backtesting.engine.research.walkforward import (
    annualize_total_return,
    stitch_equity,
    walk_forward_efficiency,
    walk_forward_windows,
)


def spans(windows):
    return [((w.is_start, w.is_end), (w.is_end, w.oos_end)) for w in windows]


def test_rolling_windows_of_the_hand_worked_example():
    windows = walk_forward_windows(100, 40, 20, 20)
    assert spans(windows) == [
        ((0, 40), (40, 60)),
        ((20, 60), (60, 80)),
        ((40, 80), (80, 100)),
    ]
    assert [w.index for w in windows] == [0, 1, 2]
    assert windows[1].in_sample == range(20, 60)
    assert windows[1].out_of_sample == range(60, 80)


def test_anchored_windows_always_start_in_sample_at_zero():
    assert spans(walk_forward_windows(100, 40, 20, 20, anchored=True)) == [
        ((0, 40), (40, 60)),
        ((0, 60), (60, 80)),
        ((0, 80), (80, 100)),
    ]


def test_a_partial_last_window_is_dropped_and_a_larger_step_leaves_gaps():
    # 110 bars: a 4th window would need bars up to 120.
    assert spans(walk_forward_windows(110, 40, 20, 20))[-1] == ((40, 80), (80, 100))
    assert spans(walk_forward_windows(100, 30, 10, 25)) == [
        ((0, 30), (30, 40)),
        ((25, 55), (55, 65)),
        ((50, 80), (80, 90)),
    ]
    assert spans(walk_forward_windows(60, 40, 20, 20)) == [((0, 40), (40, 60))]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ((100, 0, 20, 20), "in_sample must be at least 1"),
        ((100, 40, 0, 20), "out_of_sample must be at least 1"),
        ((100, 40, 20, 10), r"step \(10\) must be at least out_of_sample \(20\)"),
        ((50, 40, 20, 20), "do not fit in 50 bars"),
    ],
)
def test_impossible_settings_are_clear_errors(args, says):
    with pytest.raises(ValueError, match=says):
        walk_forward_windows(*args)


def test_stitching_rescales_each_segment_to_start_where_the_previous_ended():
    a = np.array([100.0, 110.0, 121.0])
    b = np.array([1000.0, 900.0, 1100.0])  # each run starts from its own capital
    c = np.array([50.0, 55.0])
    stitched = stitch_equity([a, b, c])
    # b * 121/1000 = 121, 108.9, 133.1; c * 133.1/50 = 133.1, 146.41
    assert stitched == pytest.approx([100, 110, 121, 121, 108.9, 133.1, 133.1, 146.41])
    # Total growth is the product of the segments' growth.
    assert stitched[-1] / stitched[0] == pytest.approx(1.21 * 1.1 * 1.1)
    assert stitch_equity([a, b], initial_equity=1.0) == pytest.approx(
        [1.0, 1.1, 1.21, 1.21, 1.089, 1.331]
    )


def test_stitching_rejects_nothing_empty_or_non_positive_starts():
    with pytest.raises(ValueError, match="no out-of-sample"):
        stitch_equity([])
    with pytest.raises(ValueError, match="segment 1 must be a non-empty"):
        stitch_equity([np.ones(3), np.array([])])
    with pytest.raises(ValueError, match=r"segment 0 starts at 0\.0"):
        stitch_equity([np.array([0.0, 1.0])])


def test_annualised_returns_and_efficiency_with_every_sign_case():
    # 21 % over two years of 252 periods = 10 % a year.
    assert annualize_total_return(0.21, 504, 252) == pytest.approx(0.10)
    assert annualize_total_return(-1.5, 10, 252) == -1.0
    assert math.isnan(annualize_total_return(0.1, 0, 252))
    assert walk_forward_efficiency(0.20, 0.10) == pytest.approx(0.5)
    assert walk_forward_efficiency(0.20, 0.30) == pytest.approx(1.5)
    assert walk_forward_efficiency(0.20, -0.05) == pytest.approx(-0.25)
    assert walk_forward_efficiency(0.20, 0.0) == 0.0
    assert math.isnan(walk_forward_efficiency(-0.10, -0.20))  # not +2: a loss over a loss
    assert math.isnan(walk_forward_efficiency(0.0, 0.1))
    assert math.isnan(walk_forward_efficiency(math.nan, 0.1))
