"""compute_statistics worked by hand from docs/metrics.md: what test_metrics.py's five-day report
leaves out (headline mode, the input named in an error, the ratios at the fewest returns that
define them, the PSR, several drawdowns, short exposure, the risk-free rate in every ratio).

Daily returns: last equity of each UTC day over the previous day's, minus 1; P = 252 without a
Saturday bar; rf_p = (1 + rf)^(1/P) - 1 and x = r - rf_p; std is ddof=1 except the downside
deviation sqrt(sum(min(x, 0)^2) / N) and the PSR's population moments.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from backtesting.engine.metrics import (
    DETAIL_STATISTICS,
    StatValue,
    compute_statistics,
    daily_returns,
)

DAY = 86_400 * 10**9
MONDAY = 1_704_067_200 * 10**9  # 2024-01-01T00:00:00Z
SQRT252 = math.sqrt(252)


def _weekdays(n: int) -> np.ndarray:
    return MONDAY + np.arange(n, dtype=np.int64) * DAY


# Returns +10 %, -10 %, +10 %, +10 %; the benchmark +5 %, -10 %, +5 %, +5 %.
EQUITY = np.array([100.0, 110.0, 99.0, 108.9, 119.79])
BENCH = np.array([100.0, 105.0, 94.5, 99.225, 104.18625])
NO_TRADES: dict[str, Any] = {
    "trade_pnl": np.array([]),
    "trade_return": np.array([]),
    "trade_bars": np.array([]),
    "trade_duration_ns": np.array([]),
}


def report(equity: np.ndarray = EQUITY, **overrides: Any) -> dict[str, StatValue]:
    kwargs: dict[str, Any] = {
        "timestamps": _weekdays(len(equity)),
        "equity": equity,
        "exposure": np.zeros(len(equity)),
        "benchmark_close": None,
        **NO_TRADES,
    }
    kwargs.update(overrides)
    return compute_statistics(**kwargs)


def close(x: float) -> Any:
    return pytest.approx(x, rel=1e-12, abs=1e-12)


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def test_headline_mode_leaves_out_only_the_detail_keys_with_the_same_values() -> None:
    trades = {
        "trade_pnl": np.array([10.0, -5.0]),
        "trade_return": np.array([0.1, -0.05]),
        "trade_bars": np.array([1.0, 2.0]),
        "trade_duration_ns": np.array([DAY, 2 * DAY]),
    }
    full = report(benchmark_close=BENCH, **trades)
    headline = report(benchmark_close=BENCH, full=False, **trades)
    assert set(full) - set(headline) == set(DETAIL_STATISTICS)
    assert headline == {key: value for key, value in full.items() if key in headline}
    assert headline["buy_and_hold_return"] == close(0.0418625)
    assert report(full=False)["buy_and_hold_return"] is None


def test_alpha_is_annualised_over_the_periods_per_year_in_use() -> None:
    # beta 4/3 and alpha 1/30 per day as in test_metrics.py, compounded over 365 periods.
    s = report(benchmark_close=BENCH, periods_per_year=365)
    assert s["alpha"] == close((1 + 1 / 30) ** 365 - 1)


def test_without_a_benchmark_there_is_no_alpha_beta_or_buy_and_hold() -> None:
    s = report()
    assert (s["buy_and_hold_return"], s["alpha"], s["beta"]) == (None, None, None)


@pytest.mark.parametrize(
    "name",
    [
        "equity",
        "exposure",
        "benchmark_close",
        "trade_pnl",
        "trade_return",
        "trade_bars",
        "trade_duration_ns",
    ],
)
def test_the_report_names_an_input_that_is_not_one_dimensional(name: str) -> None:
    with pytest.raises(ValueError) as info:
        report(**{name: np.ones((1, 5))})
    assert str(info.value) == f"{name} must be a 1-D array, got 2 dimensions"


@pytest.mark.parametrize(
    ("overrides", "lengths"),
    [
        ({"exposure": np.zeros(4)}, "timestamps=5, equity=5, exposure=4"),
        (
            {"exposure": np.zeros(4), "benchmark_close": BENCH},
            "timestamps=5, equity=5, exposure=4, benchmark=5",
        ),
        ({"benchmark_close": BENCH[:4]}, "timestamps=5, equity=5, exposure=5, benchmark=4"),
        (
            {
                "trade_pnl": np.ones(3),
                "trade_return": np.ones(3),
                "trade_bars": np.ones(2),
                "trade_duration_ns": np.ones(3),
            },
            "pnl=3, return=3, bars=2, duration_ns=3",
        ),
    ],
)
def test_the_report_lists_every_length_when_they_differ(
    overrides: dict[str, Any], lengths: str
) -> None:
    with pytest.raises(ValueError) as info:
        report(**overrides)
    assert str(info.value) == f"arrays must have the same length ({lengths})"


@pytest.mark.filterwarnings("error")
def test_one_losing_day_has_no_ratios_and_no_trades_no_averages_without_warnings() -> None:
    # One daily return (-5 %): Sharpe, Sortino and volatility need two, however large the
    # downside; no trade leaves every trade average undefined. Nothing warns on the way.
    s = report(np.array([100.0, 95.0]))
    for key in ("sharpe_ratio", "sortino_ratio", "annualized_volatility", "avg_win", "avg_loss"):
        assert s[key] is None, key
    assert s["annualized_return"] == close(0.95**252 - 1)
    assert (s["expectancy"], s["avg_trade_bars"], s["avg_trade_duration_days"]) == (None,) * 3


def test_the_probabilistic_sharpe_ratio_of_the_report() -> None:
    # x = .1, -.1, .1, .1: SR = .05 / .1 = 1/2 per day. A two-point distribution with
    # p = 3/4 has skewness (q - p) / sqrt(pq) = -2/sqrt(3) and kurtosis skew^2 + 1 = 7/3.
    g3, g4, sr = -2 / math.sqrt(3), 7 / 3, 0.5
    z = sr * math.sqrt(4 - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    assert report()["probabilistic_sharpe_ratio"] == close(_phi(z))


def test_three_daily_returns_are_enough_for_the_probabilistic_sharpe_ratio() -> None:
    # r = .1, -.1, .1: mean 1/30, sample std sqrt(.04/3), so SR = 1 / (2 sqrt(3)); p = 2/3
    # gives skewness -1/sqrt(2) and kurtosis 3/2.
    s = report(EQUITY[:4])
    g3, g4, sr = -1 / math.sqrt(2), 1.5, 1 / (2 * math.sqrt(3))
    z = sr * math.sqrt(3 - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    assert s["probabilistic_sharpe_ratio"] == close(_phi(z))
    assert s["sharpe_ratio"] == close(sr * SQRT252)


def test_two_daily_returns_are_enough_for_sharpe_and_sortino_but_not_the_psr() -> None:
    # 100 -> 110 -> 104.5: r = .1, -.05; mean .025, sample std .075 sqrt(2);
    # downside sqrt(.05^2 / 2) = .05 / sqrt(2).
    s = report(np.array([100.0, 110.0, 104.5]))
    assert s["sharpe_ratio"] == close(0.025 / (0.075 * math.sqrt(2)) * SQRT252)
    assert s["sortino_ratio"] == close(0.025 / (0.05 / math.sqrt(2)) * SQRT252)
    assert s["annualized_volatility"] == close(0.075 * math.sqrt(2) * SQRT252)
    assert s["probabilistic_sharpe_ratio"] is None


def test_the_risk_free_rate_enters_sortino_psr_and_alpha() -> None:
    s = report(benchmark_close=BENCH, risk_free_rate=0.05)
    assert (s["risk_free_rate"], s["periods_per_year"]) == (0.05, 252.0)
    rf_p = 1.05 ** (1 / 252) - 1
    # Only x = -.1 - rf_p is below the target: DD = sqrt((.1 + rf_p)^2 / 4).
    assert s["sortino_ratio"] == close((0.05 - rf_p) / ((0.1 + rf_p) / 2) * SQRT252)
    sr = (0.05 - rf_p) / 0.1  # the moments of x are those of r
    g3, g4 = -2 / math.sqrt(3), 7 / 3
    z = sr * math.sqrt(3) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    assert s["probabilistic_sharpe_ratio"] == close(_phi(z))
    # beta is unchanged (4/3); per day alpha = mean(r) - rf_p - beta (mean(b) - rf_p)
    # = .05 - 4/3 * .0125 + rf_p / 3.
    assert s["beta"] == close(4 / 3)
    assert s["alpha"] == close((1 + 1 / 30 + rf_p / 3) ** 252 - 1)


def test_four_drawdowns_in_the_report() -> None:
    # Peaks 100, 100, 100, 110; depths -10 %, -5 %, -20 % and -1/22 (still open); each lasts
    # from its peak bar to the bar back at the peak (2, 2, 2 days), the open one to the end (1).
    equity = np.array([100.0, 90.0, 100.0, 95.0, 100.0, 80.0, 110.0, 105.0])
    s = report(equity, periods_per_year=252)
    assert s["max_drawdown"] == close(-0.2)
    assert s["n_drawdowns"] == 4
    assert s["avg_drawdown"] == close((-0.1 - 0.05 - 0.2 - 1 / 22) / 4)
    assert s["max_drawdown_duration_days"] == 2.0
    assert s["avg_drawdown_duration_days"] == close(7 / 4)


def test_no_drawdown_averages_to_zero() -> None:
    s = report(np.array([100.0, 101.0, 102.0]))
    assert (s["avg_drawdown"], s["avg_drawdown_duration_days"]) == (0.0, 0.0)
    assert (s["max_drawdown_duration_days"], s["n_drawdowns"]) == (0.0, 0)


def test_exposure_counts_short_positions_by_their_size() -> None:
    s = report(exposure=np.array([-1.0, 0.0, 0.5, -0.25, 0.0]))
    assert s["exposure_time"] == close(3 / 5)
    assert s["average_exposure"] == close(1.75 / 5)


def test_a_single_winning_trade_below_one_unit_of_cash() -> None:
    # Win means pnl > 0, however small; one trade has a best, a worst and a longest.
    s = report(
        trade_pnl=np.array([0.5]),
        trade_return=np.array([0.005]),
        trade_bars=np.array([3.0]),
        trade_duration_ns=np.array([2 * DAY]),
    )
    assert (s["n_trades"], s["n_wins"], s["n_losses"], s["n_breakeven"]) == (1, 1, 0, 0)
    assert (s["win_rate"], s["loss_rate"], s["max_consecutive_wins"]) == (1.0, 0.0, 1)
    assert (s["best_trade"], s["worst_trade"]) == (0.005, 0.005)
    assert (s["avg_win"], s["avg_win_return"], s["avg_loss"]) == (0.5, 0.005, None)
    assert (s["max_trade_bars"], s["avg_trade_bars"]) == (3, 3.0)
    assert (s["max_trade_duration_days"], s["avg_trade_duration_days"]) == (2.0, 2.0)
    assert (s["profit_factor"], s["sqn"], s["kelly_criterion"]) == (None, None, 1.0)


def test_start_and_end_drop_what_is_below_a_microsecond() -> None:
    # ISO times have microsecond resolution: 999.999 us after midnight shows as 999 us, never
    # as a time after the bar.
    s = report(timestamps=_weekdays(5) + 999_999)
    assert s["start"] == "2024-01-01T00:00:00.000999+00:00"
    assert s["end"] == "2024-01-05T00:00:00.000999+00:00"


def test_tail_risk_of_the_report() -> None:
    # No return at all: no VaR and no CVaR.
    s = report(np.array([100.0]))
    assert (s["var_95"], s["cvar_95"]) == (None, None)
    # Daily returns 0, -.01, ..., -.20 (21): CVaR is the mean of the floor(20 * .05) + 1 = 2
    # worst, -.195; VaR at position 20 * .05 = 1 is the second worst, -.19.
    returns = -0.01 * np.arange(21)
    equity = 100.0 * np.cumprod(np.concatenate(([1.0], 1.0 + returns)))
    s = report(equity)
    assert s["cvar_95"] == pytest.approx(-0.195, rel=1e-9)
    assert s["var_95"] == pytest.approx(-0.19, rel=1e-9)
    # 20 of them (0 .. -.19): floor(19 * .05) + 1 = 1, the worst alone.
    s = report(equity[:-1])
    assert s["cvar_95"] == pytest.approx(-0.19, rel=1e-9)


def test_the_reports_var_is_numpys_linear_quantile_of_the_daily_returns_to_the_bit() -> None:
    # docs/metrics.md: var_95 is the 5 % quantile of the daily returns, NumPy's default (linear)
    # interpolation between order statistics; two returns are the fewest to interpolate.
    rng = np.random.default_rng(16)
    for n in (2, 3, 12, 21, 22, 31, 45, 250, 1001):
        equity = 100.0 * np.cumprod(np.concatenate(([1.0], 1.0 + rng.normal(0, 0.02, n))))
        returns = daily_returns(_weekdays(n + 1), equity)
        # The level is 0.95, so the quantile is at 1 - 0.95 (0.05 plus 4e-17 in floats).
        assert report(equity)["var_95"] == float(np.quantile(returns, 1.0 - 0.95)), n
