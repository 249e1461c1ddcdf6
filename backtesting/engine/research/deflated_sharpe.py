"""Probabilistic and deflated Sharpe ratios (Bailey & López de Prado, 2012 and 2014).

Conventions (docs/metrics.md, "Research statistics"):

- Every Sharpe ratio here is PER PERIOD and NOT annualised: ``mean(r) / std(r, ddof=1)`` of
  the returns the statistic is about (daily returns for a backtest). Divide an annualised
  Sharpe by ``sqrt(periods_per_year)`` first (``per_period_sharpe``), and the variance of
  annualised trial Sharpes by ``periods_per_year``.
- Skewness ``g3`` and kurtosis ``g4`` are population moments, ``g4`` NON-excess (3 for a
  normal), exactly as ``metrics.probabilistic_sharpe_ratio`` computes them.
- Undefined values are NaN: fewer than 3 observations (as in ``metrics``), zero variance, or a
  non-positive radicand ``1 - g3*SR + (g4 - 1)/4*SR^2``.
- Φ and Φ⁻¹ come from ``statistics.NormalDist`` (SciPy is a development dependency only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike

from backtesting.engine.metrics import third_and_fourth_moments

EULER_MASCHERONI = 0.5772156649015329
_STANDARD_NORMAL = NormalDist()

__all__ = [
    "EULER_MASCHERONI",
    "ReturnMoments",
    "SweepSharpe",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "per_period_sharpe",
    "probabilistic_sharpe_ratio",
    "return_moments",
    "sweep_deflated_sharpe",
    "trial_sharpe_variance",
]


@dataclass(frozen=True)
class ReturnMoments:
    """What PSR needs from a return series: per-period Sharpe, count, skewness, kurtosis."""

    sharpe: float
    n: int
    skewness: float
    kurtosis: float


def return_moments(returns: ArrayLike) -> ReturnMoments:
    """Per-period Sharpe (ddof=1), N, population skewness and non-excess kurtosis of ``returns``.

    NaN moments for fewer than 2 returns or zero variance (N is still the count).
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1:
        raise ValueError(f"returns must be a 1-D array, got {r.ndim} dimensions")
    n = len(r)
    centred = r - np.mean(r) if n else r
    m2 = float(np.mean(centred**2)) if n else 0.0
    if n < 2 or m2 == 0.0 or not math.isfinite(m2):
        return ReturnMoments(math.nan, n, math.nan, math.nan)
    m3, m4 = third_and_fourth_moments(centred)
    return ReturnMoments(
        sharpe=float(np.mean(r)) / float(np.std(r, ddof=1)),
        n=n,
        skewness=m3 / m2**1.5,
        kurtosis=m4 / m2**2,
    )


def per_period_sharpe(annualized_sharpe: float, periods_per_year: float) -> float:
    """An annualised Sharpe (``mean/std * sqrt(P)``) back to per period: ``SR / sqrt(P)``."""
    if periods_per_year <= 0:
        raise ValueError(f"periods_per_year must be > 0, got {periods_per_year}")
    return annualized_sharpe / math.sqrt(periods_per_year)


def probabilistic_sharpe_ratio(moments: ReturnMoments, benchmark_sharpe: float = 0.0) -> float:
    """P(true Sharpe > ``benchmark_sharpe``), both per period:

    PSR = Φ((SR - SR*)·√(N - 1) / √(1 - g3·SR + (g4 - 1)/4·SR²)).
    NaN when N < 3 (as ``metrics.probabilistic_sharpe_ratio``), a moment is NaN, or the
    radicand is <= 0.
    """
    sr, g3, g4 = moments.sharpe, moments.skewness, moments.kurtosis
    if moments.n < 3 or not all(math.isfinite(x) for x in (sr, g3, g4, benchmark_sharpe)):
        return math.nan
    radicand = 1.0 - g3 * sr + (g4 - 1.0) / 4.0 * sr**2
    if radicand <= 0.0:
        return math.nan
    z = (sr - benchmark_sharpe) * math.sqrt(moments.n - 1) / math.sqrt(radicand)
    return _STANDARD_NORMAL.cdf(z)


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """Expected maximum per-period Sharpe of ``n_trials`` unskilled trials:

    SR0 = √V·((1 - g)·Φ⁻¹(1 - 1/N) + g·Φ⁻¹(1 - 1/(N·e))), g the Euler-Mascheroni constant,
    V the variance of the trials' per-period Sharpe ratios.
    One trial (nothing was selected) or zero variance gives 0, so DSR = PSR(0) there.
    Raises ValueError for n_trials < 1 or a negative or non-finite variance.
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    if not math.isfinite(sharpe_variance) or sharpe_variance < 0.0:
        raise ValueError(f"sharpe_variance must be finite and >= 0, got {sharpe_variance}")
    # Φ⁻¹(1 - 1/1) = Φ⁻¹(0) = -inf: with a single trial there is no selection to deflate for.
    if n_trials == 1 or sharpe_variance == 0.0:
        return 0.0
    ppf = _STANDARD_NORMAL.inv_cdf
    gamma = EULER_MASCHERONI
    expected_z = (1.0 - gamma) * ppf(1.0 - 1.0 / n_trials) + gamma * ppf(
        1.0 - 1.0 / (n_trials * math.e)
    )
    return math.sqrt(sharpe_variance) * expected_z


def deflated_sharpe_ratio(moments: ReturnMoments, n_trials: int, sharpe_variance: float) -> float:
    """PSR of the selected strategy against the expected maximum Sharpe of the trials:

    DSR = PSR(SR0), SR0 = ``expected_max_sharpe(n_trials, sharpe_variance)`` (per period).
    NaN where PSR is; ValueError as ``expected_max_sharpe``.
    """
    return probabilistic_sharpe_ratio(moments, expected_max_sharpe(n_trials, sharpe_variance))


def trial_sharpe_variance(trial_sharpes: ArrayLike) -> float:
    """Sample variance (ddof=1) of the trials' per-period Sharpe ratios, NaN/inf skipped;
    0.0 with fewer than 2 finite values (nothing to deflate for, as with one trial)."""
    s = np.asarray(trial_sharpes, dtype=np.float64)
    s = s[np.isfinite(s)]
    return float(np.var(s, ddof=1)) if len(s) >= 2 else 0.0


@dataclass(frozen=True)
class SweepSharpe:
    """The best combination's Sharpe next to its PSR and DSR, as an optimization reports them.

    ``sharpe`` and ``expected_max_sharpe`` are annualised (x sqrt(P)) for display;
    ``sharpe_variance`` is the per-period variance the DSR used.
    """

    sharpe: float
    probabilistic_sharpe_ratio: float
    deflated_sharpe_ratio: float
    expected_max_sharpe: float
    n_trials: int
    sharpe_variance: float


def sweep_deflated_sharpe(
    best: ReturnMoments,
    trial_sharpes: ArrayLike,
    periods_per_year: float,
    n_trials: int | None = None,
) -> SweepSharpe:
    """PSR and DSR of a sweep's best combination from its daily-return moments (``best``) and
    every trial's ANNUALISED Sharpe (the rows' ``sharpe_ratio``; None/NaN allowed).

    ``n_trials`` defaults to the number of trials given, undefined ones included: they were
    tried. The trials' variance is taken per period (annualised variance / P).
    Raises ValueError for periods_per_year <= 0 or no trial.
    """
    if periods_per_year <= 0:
        raise ValueError(f"periods_per_year must be > 0, got {periods_per_year}")
    annual = np.array(
        [math.nan if s is None else s for s in np.asarray(trial_sharpes, dtype=object).ravel()],
        dtype=np.float64,
    )
    trials = len(annual) if n_trials is None else n_trials
    variance = trial_sharpe_variance(annual) / periods_per_year
    sr0 = expected_max_sharpe(trials, variance)
    root = math.sqrt(periods_per_year)
    return SweepSharpe(
        sharpe=best.sharpe * root,
        probabilistic_sharpe_ratio=probabilistic_sharpe_ratio(best),
        deflated_sharpe_ratio=probabilistic_sharpe_ratio(best, sr0),
        expected_max_sharpe=sr0 * root,
        n_trials=trials,
        sharpe_variance=variance,
    )
