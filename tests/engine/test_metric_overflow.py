"""Annualising a short span with a large gain passes the largest float; a report still comes.

Python's float power raises OverflowError where NumPy's would give inf: before this, a run of
a few intraday bars with a double-digit gain failed while computing its statistics.
"""

from __future__ import annotations

import math

import numpy as np

from backtesting.engine.metrics import alpha_beta, annualized_return, cagr, compute_statistics

HOUR_NS = 3_600 * 10**9
MONDAY = 1_704_067_200 * 10**9 + 9 * HOUR_NS  # 2024-01-01 09:00 UTC


def test_cagr_of_12_5_percent_in_one_hour_is_infinite_not_an_error() -> None:
    # 1.125 ** (365.25 * 24) is about 10**448, past the largest float (about 1.8e308).
    assert cagr(100.0, 112.5, MONDAY, MONDAY + HOUR_NS) == math.inf
    # A loss that large only shrinks toward -100 %.
    assert cagr(100.0, 87.5, MONDAY, MONDAY + HOUR_NS) == -1.0


def test_annualized_return_past_the_largest_float_is_infinite() -> None:
    # Two hourly returns of 12.5 %: growth 1.265625 to the power 8766 / 2.
    assert annualized_return(np.array([0.125, 0.125]), 8_766.0) == math.inf


def test_alpha_of_a_negative_growth_factor_to_a_fractional_power_is_nan_not_complex() -> None:
    # Benchmark moves of +-50 % and returns of 5x those: beta 5 exactly. The per-period
    # excess left after beta is mean(r - 5 b) = mean([-1.1, -1.1, -1.1]) = -1.1 (r has an
    # extra -1.1 each period), so 1 + alpha_per_period = -0.1, and -0.1 ** 365.25 is complex.
    b = np.array([0.5, -0.5, 0.5])
    r = 5.0 * b - 1.1
    alpha, beta = alpha_beta(r, b, periods_per_year=365.25)
    assert beta == 5.0
    assert math.isnan(alpha) and isinstance(alpha, float)


def test_a_report_over_two_hourly_bars_with_a_12_5_percent_gain_has_no_annual_figures() -> None:
    empty = np.array([], dtype=np.float64)
    report = compute_statistics(
        timestamps=np.array([MONDAY, MONDAY + HOUR_NS], dtype=np.int64),
        equity=np.array([100_000.0, 112_500.0]),
        exposure=np.array([1.0, 1.0]),
        trade_pnl=empty, trade_return=empty, trade_bars=np.array([], dtype=np.int64),
        trade_duration_ns=np.array([], dtype=np.int64), periods_per_year=8_766.0,
    )  # fmt: skip
    # The report holds JSON values only: the infinite CAGR is None (no number). (The daily
    # returns are empty here, both bars being on one day, so annualized_return is None too.)
    assert report["cagr"] is None and report["annualized_return"] is None
    assert report["total_return"] == 0.125
    assert report["equity_final"] == 112_500.0


def test_alpha_of_a_negative_growth_factor_past_the_largest_float_is_nan_not_infinite() -> None:
    # Returns of 5x the benchmark less 2.6 a period: beta 5, and 1 + alpha_per_period is about
    # -1.6. (-1.6) ** 2000 passes the largest float; a negative growth factor has no
    # compounded rate, so the answer is NaN (no number), not +inf.
    b = np.array([0.5, -0.5, 0.5])
    alpha, beta = alpha_beta(5.0 * b - 2.6, b, periods_per_year=2_000.0)
    assert math.isclose(beta, 5.0)
    assert math.isnan(alpha)
