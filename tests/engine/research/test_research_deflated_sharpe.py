"""Deflated and probabilistic Sharpe ratios: the paper's numeric example, the formula worked
step by step, and the edge cases (one trial, zero variance, short series)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backtesting.engine import metrics
from backtesting.engine.research import deflated_sharpe as ds

GAMMA = 0.5772156649015329


def test_the_papers_numeric_example_gives_sr0_0_1132_and_dsr_0_9004():
    # Bailey & López de Prado (2014), "The Deflated Sharpe Ratio", numerical example: 100
    # trials whose annualised Sharpes vary with variance 1/2, the best one annualised 2.5 over
    # 1,250 daily returns (250 a year) with skewness -3 and kurtosis 10.
    variance = 0.5 / 250
    sr0 = ds.expected_max_sharpe(100, variance)
    moments = ds.ReturnMoments(sharpe=2.5 / math.sqrt(250), n=1250, skewness=-3.0, kurtosis=10.0)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    assert ds.deflated_sharpe_ratio(moments, 100, variance) == pytest.approx(0.9004, abs=5e-5)


def test_expected_max_sharpe_is_the_formula_worked_by_hand():
    # N = 10, V = 0.04: Φ⁻¹(0.9) = 1.2815515655446004, Φ⁻¹(1 - 1/(10e)) = Φ⁻¹(0.963212055882856)
    # = 1.7892417645816283 (tables; scipy.stats.norm.ppf agrees);
    # SR0 = 0.2 * (0.4227843 * 1.2815516 + 0.5772157 * 1.7892418).
    z1, z2 = 1.2815515655446004, 1.7892417645816283
    by_hand = 0.2 * ((1 - GAMMA) * z1 + GAMMA * z2)
    assert ds.expected_max_sharpe(10, 0.04) == pytest.approx(by_hand, abs=1e-12)
    assert by_hand == pytest.approx(0.3149197, abs=1e-7)


def test_psr_is_the_formula_worked_step_by_step():
    sr, n, g3, g4, sr_star = 0.1, 101, -0.5, 5.0, 0.02
    # radicand = 1 + 0.05 + 1 * 0.01 = 1.06; z = 0.08 * 10 / sqrt(1.06) = 0.777029...
    z = 0.08 * 10 / math.sqrt(1.06)
    phi = 0.5 * (1 + math.erf(z / math.sqrt(2)))
    got = ds.probabilistic_sharpe_ratio(ds.ReturnMoments(sr, n, g3, g4), sr_star)
    assert got == pytest.approx(phi, abs=1e-12)
    assert got == pytest.approx(0.78143, abs=1e-4)


def test_return_moments_match_the_metrics_psr_on_the_same_returns():
    rng = np.random.default_rng(7)
    r = rng.normal(0.001, 0.01, 500) + rng.standard_t(4, 500) * 0.002
    moments = ds.return_moments(r)
    assert moments.sharpe == pytest.approx(r.mean() / r.std(ddof=1))
    centred = r - r.mean()
    assert moments.kurtosis == pytest.approx((centred**4).mean() / (centred**2).mean() ** 2)
    assert ds.probabilistic_sharpe_ratio(moments) == pytest.approx(
        metrics.probabilistic_sharpe_ratio(r), abs=1e-12
    )


def test_one_trial_or_identical_trials_do_not_deflate():
    moments = ds.ReturnMoments(0.1, 250, 0.0, 3.0)
    psr = ds.probabilistic_sharpe_ratio(moments)
    assert ds.expected_max_sharpe(1, 0.5) == 0.0
    assert ds.expected_max_sharpe(50, 0.0) == 0.0
    assert ds.deflated_sharpe_ratio(moments, 1, 0.5) == psr
    assert ds.deflated_sharpe_ratio(moments, 50, 0.0) == psr


def test_more_trials_deflate_more():
    moments = ds.ReturnMoments(0.1, 250, 0.0, 3.0)
    dsr = [ds.deflated_sharpe_ratio(moments, n, 0.002) for n in (2, 10, 100, 1000)]
    assert dsr == sorted(dsr, reverse=True)
    assert dsr[0] > dsr[-1]


def test_undefined_cases_are_nan():
    assert math.isnan(ds.probabilistic_sharpe_ratio(ds.ReturnMoments(0.1, 2, 0.0, 3.0)))
    assert math.isnan(ds.probabilistic_sharpe_ratio(ds.return_moments(np.ones(10))))
    assert math.isnan(ds.probabilistic_sharpe_ratio(ds.return_moments(np.array([0.01]))))
    # radicand 1 - 10 * 0.2 + ... < 0
    assert math.isnan(ds.probabilistic_sharpe_ratio(ds.ReturnMoments(0.2, 100, 10.0, 3.0)))
    assert ds.return_moments(np.array([])).n == 0


def test_bad_trial_inputs_are_rejected():
    with pytest.raises(ValueError, match="n_trials"):
        ds.expected_max_sharpe(0, 0.1)
    with pytest.raises(ValueError, match="sharpe_variance"):
        ds.expected_max_sharpe(10, -0.1)
    with pytest.raises(ValueError, match="sharpe_variance"):
        ds.expected_max_sharpe(10, math.nan)


def test_trial_variance_skips_undefined_sharpes_and_annualised_ones_scale_back():
    assert ds.trial_sharpe_variance(np.array([0.1, 0.3, math.nan, math.inf])) == pytest.approx(0.02)
    assert ds.trial_sharpe_variance(np.array([0.1, math.nan])) == 0.0
    assert ds.per_period_sharpe(2.5, 250) == pytest.approx(2.5 / math.sqrt(250))


def test_a_sweep_reports_the_papers_example_from_annualised_trial_sharpes():
    # 100 trials whose annualised Sharpes have variance 1/2: two values repeated, a = 1 +- d
    # with d chosen so the sample variance (ddof=1) is exactly 0.5: d^2 * 100/99 = 0.5.
    d = math.sqrt(0.5 * 99 / 100)
    trials = [1.0 + d] * 50 + [1.0 - d] * 50
    best = ds.ReturnMoments(sharpe=2.5 / math.sqrt(250), n=1250, skewness=-3.0, kurtosis=10.0)
    report = ds.sweep_deflated_sharpe(best, trials, periods_per_year=250)
    assert report.n_trials == 100
    assert report.sharpe_variance == pytest.approx(0.5 / 250)
    assert report.sharpe == pytest.approx(2.5)
    assert report.expected_max_sharpe == pytest.approx(0.1132 * math.sqrt(250), abs=1e-3)
    assert report.deflated_sharpe_ratio == pytest.approx(0.9004, abs=5e-5)
    assert report.probabilistic_sharpe_ratio > report.deflated_sharpe_ratio


def test_a_sweep_counts_undefined_trials_as_tried_but_not_in_the_variance():
    best = ds.ReturnMoments(0.1, 250, 0.0, 3.0)
    report = ds.sweep_deflated_sharpe(best, [1.0, None, math.nan, 2.0], periods_per_year=252)
    assert report.n_trials == 4
    assert report.sharpe_variance == pytest.approx(0.5 / 252)
    assert ds.sweep_deflated_sharpe(best, [1.0], 252).deflated_sharpe_ratio == pytest.approx(
        ds.probabilistic_sharpe_ratio(best)
    )
    with pytest.raises(ValueError, match="n_trials"):
        ds.sweep_deflated_sharpe(best, [], 252)
