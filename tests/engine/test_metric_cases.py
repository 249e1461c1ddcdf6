"""Metrics helpers worked out by hand from docs/metrics.md (the cases test_metrics.py leaves out).

Calendar: days are UTC, a 7-day market (any Saturday bar) has 365 periods a year, else 252;
CAGR is (end / start)^(1 / years) - 1 over 365.25-day years, -1 once wiped out, NaN without
elapsed time or a positive start; monthly and yearly returns run from each period's last equity
to the next, the first from the first bar's equity.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from backtesting.engine import kernel
from backtesting.engine.metrics import (
    alpha_beta,
    annualized_return,
    annualized_volatility,
    cagr,
    calmar_ratio,
    conditional_value_at_risk,
    daily_closes,
    daily_returns,
    drawdown_episodes,
    drawdown_series,
    infer_periods_per_year,
    kelly_criterion,
    max_consecutive,
    max_drawdown,
    per_period_rate,
    period_returns,
    probabilistic_sharpe_ratio,
    profit_factor,
    sharpe_ratio,
    sortino_ratio,
    sqn,
    value_at_risk,
)

HOUR_NS = 3_600 * 10**9
DAY_NS = 24 * HOUR_NS
YEAR_NS = int(365.25 * DAY_NS)
# 2024-01-01 is a Monday; day numbers count from 1970-01-01.
MONDAY = 19_723 * DAY_NS


def _ts(*offsets_ns: int) -> np.ndarray:
    return np.array([MONDAY + o for o in offsets_ns], dtype=np.int64)


@pytest.mark.parametrize(
    ("offsets", "expected"),
    [
        ([0, DAY_NS, 4 * DAY_NS], 252),  # Monday, Tuesday, Friday
        ([0, 5 * DAY_NS + 12 * HOUR_NS], 365),  # a bar at Saturday noon
        ([0, 5 * DAY_NS + 23 * HOUR_NS], 365),  # Saturday 23:00
        ([0, 6 * DAY_NS + 22 * HOUR_NS], 252),  # Sunday evening only (FX, futures)
        ([4 * DAY_NS + 23 * HOUR_NS], 252),  # Friday 23:00
    ],
)
def test_a_saturday_bar_makes_a_seven_day_market(offsets: list[int], expected: int) -> None:
    assert infer_periods_per_year(_ts(*offsets)) == expected


@pytest.mark.parametrize(
    ("start", "end", "years", "expected"),
    [
        (0.5, 1.0, 1.0, 1.0),  # doubled in a year
        (1.0, 0.5, 1.0, -0.5),  # halved in a year
        (100.0, 121.0, 2.0, 0.1),  # 10 % a year for two years
        (100.0, 0.0, 1.0, -1.0),  # wiped out
        (100.0, -5.0, 1.0, -1.0),
        (0.0, 10.0, 1.0, math.nan),  # no positive start
        (-1.0, 10.0, 1.0, math.nan),
        (100.0, 110.0, 0.0, math.nan),  # no elapsed time
    ],
)
def test_cagr_by_hand(start: float, end: float, years: float, expected: float) -> None:
    value = cagr(start, end, MONDAY, MONDAY + int(years * YEAR_NS))
    if math.isnan(expected):
        assert math.isnan(value)
    else:
        assert value == pytest.approx(expected, rel=1e-12)


def test_daily_closes_take_each_days_last_bar() -> None:
    ts = _ts(10 * HOUR_NS, 16 * HOUR_NS, DAY_NS + 10 * HOUR_NS, 3 * DAY_NS + 12 * HOUR_NS)
    days, closes = daily_closes(ts, np.array([1.0, 2.0, 3.0, 4.0]))
    assert days.tolist() == [19_723, 19_724, 19_726]
    assert closes.tolist() == [2.0, 3.0, 4.0]


@pytest.mark.parametrize(
    ("timestamps", "equity", "message"),
    [
        (_ts(0, DAY_NS), [1.0], "arrays must have the same length (timestamps=2, equity=1)"),
        (_ts(DAY_NS, 0), [1.0, 2.0], "timestamps must be strictly increasing"),
        (_ts(0, 0), [1.0, 2.0], "timestamps must be strictly increasing"),
        (_ts(0, 2 * DAY_NS, DAY_NS), [1.0, 2.0, 3.0], "timestamps must be strictly increasing"),
        (np.array([], dtype=np.int64), [], "timestamps must be a non-empty 1-D array of int64 ns"),
        (_ts(0).reshape(1, 1), [1.0], "timestamps must be a non-empty 1-D array of int64 ns"),
        (np.array([1.5, 2.5]), [1.0, 2.0], "timestamps must be integers"),
        (_ts(0, DAY_NS), [[1.0, 2.0]], "equity must be a 1-D array, got 2 dimensions"),
    ],
)
def test_daily_closes_reject_what_is_not_a_series(
    timestamps: np.ndarray, equity: list, message: str
) -> None:
    with pytest.raises(ValueError) as info:
        daily_closes(timestamps, np.array(equity))
    assert str(info.value).startswith(message)


def test_drawdown_episodes_need_one_timestamp_per_bar() -> None:
    with pytest.raises(ValueError, match=r"same length \(timestamps=3, equity=2\)"):
        drawdown_episodes(_ts(0, DAY_NS, 2 * DAY_NS), np.array([1.0, 0.5]))


def _month_ts() -> np.ndarray:
    # 2024-01-01, 2024-01-31, 2024-02-15, 2024-02-29, 2024-03-01 and 2025-01-02 (a Thursday).
    days = [0, 30, 45, 59, 60, 367]
    return np.array([MONDAY + d * DAY_NS for d in days], dtype=np.int64)


def test_monthly_and_yearly_returns_by_hand() -> None:
    equity = np.array([100.0, 110.0, 99.0, 121.0, 108.9, 130.68])
    # Jan: 110 / 100 - 1; Feb: 121 / 110 - 1; Mar: 108.9 / 121 - 1; Jan 2025: 130.68 / 108.9 - 1.
    monthly = period_returns(_month_ts(), equity, "M")
    assert [(r["year"], r["month"]) for r in monthly] == [
        (2024, 1),
        (2024, 2),
        (2024, 3),
        (2025, 1),
    ]
    assert [r["return"] for r in monthly] == pytest.approx([0.1, 0.1, -0.1, 0.2])
    yearly = period_returns(_month_ts(), equity, "Y")
    assert [r["year"] for r in yearly] == [2024, 2025]
    assert all("month" not in r for r in yearly)
    # 2024: 108.9 / 100 - 1; 2025: 130.68 / 108.9 - 1.
    assert [r["return"] for r in yearly] == pytest.approx([0.089, 0.2])


@pytest.mark.filterwarnings("error")
def test_a_period_after_equity_reached_zero_has_no_return() -> None:
    # 0 / 0 and 10 / 0 are not returns: None, and no floating-point warning on the way.
    equity = np.array([100.0, 50.0, 0.0, 0.0, 0.0, 10.0])
    monthly = period_returns(_month_ts(), equity, "M")
    assert [r["return"] for r in monthly] == [-0.5, -1.0, None, None]


def test_period_must_be_month_or_year() -> None:
    with pytest.raises(ValueError, match="period must be 'M' or 'Y', got 'W'"):
        period_returns(_month_ts(), np.ones(6), "W")
    with pytest.raises(ValueError, match="same length"):
        period_returns(_month_ts(), np.ones(5), "M")
    with pytest.raises(ValueError, match=r"^equity must be a 1-D array, got 2 dimensions$"):
        period_returns(_month_ts(), np.ones((1, 6)), "M")


def test_four_drawdown_episodes_by_hand() -> None:
    # Peaks 100, 100, 100, 110; troughs 90 (-10 %), 95 (-5 %), 80 (-20 %), 105 (-1/22, open).
    equity = np.array([100.0, 90.0, 100.0, 95.0, 100.0, 80.0, 110.0, 105.0])
    ts = _ts(*(d * DAY_NS for d in range(8)))
    episodes = drawdown_episodes(ts, equity)
    assert episodes.depth.dtype == np.float64 and episodes.duration_ns.dtype == np.int64
    assert episodes.depth.tolist() == pytest.approx([-0.1, -0.05, -0.2, -1 / 22])
    # From the peak bar before each run to the bar back at the peak; the last to the last bar.
    assert episodes.duration_ns.tolist() == [2 * DAY_NS, 2 * DAY_NS, 2 * DAY_NS, DAY_NS]
    assert episodes.recovered.tolist() == [True, True, True, False]


@pytest.mark.parametrize(
    ("pnl", "expected"),
    [
        ([3.0, -1.0, 0.5, -2.0, 0.0], 3.5 / 3.0),
        ([0.5, 0.0], math.inf),  # wins, no losses
        ([2.0], math.inf),
        ([0.0, 0.0], math.nan),  # neither
        ([], math.nan),
        ([-0.5, -0.25], 0.0),
    ],
)
def test_profit_factor_by_hand(pnl: list[float], expected: float) -> None:
    value = profit_factor(np.array(pnl))
    assert value == pytest.approx(expected, nan_ok=True)


@pytest.mark.parametrize(
    ("pnl", "expected"),
    [
        ([1.0, 3.0], 2.0),  # sqrt(2) * mean 2 / std sqrt(2)
        ([1.0, 2.0, 3.0], math.sqrt(3) * 2.0),  # std 1
        ([5.0], math.nan),  # one trade has no spread
        ([2.0, 2.0], math.nan),  # no spread either
    ],
)
def test_sqn_by_hand(pnl: list[float], expected: float) -> None:
    assert sqn(np.array(pnl)) == pytest.approx(expected, nan_ok=True)


@pytest.mark.parametrize(
    ("returns", "expected"),
    [
        # p = 2/4, q = 1/4 (the break-even counts in N), b = 0.15 / 0.05: 0.5 - 0.25 / 3.
        ([0.1, -0.05, 0.0, 0.2], 0.5 - 0.25 / 3.0),
        ([0.1, -0.05], 0.5 - 0.5 * 0.05 / 0.1),  # one win, one loss: 0.25
        ([0.1], 1.0),  # no losses: p
        ([0.1, 0.0], 0.5),
        ([0.0], math.nan),  # no wins
        ([-0.1], math.nan),
        ([], math.nan),
    ],
)
def test_kelly_by_hand(returns: list[float], expected: float) -> None:
    assert kelly_criterion(np.array(returns)) == pytest.approx(expected, nan_ok=True)


@pytest.mark.parametrize(
    ("function", "name"),
    [(profit_factor, "trade_pnl"), (sqn, "trade_pnl"), (kelly_criterion, "trade_return")],
)
def test_trade_helpers_name_a_bad_input(function: Any, name: str) -> None:
    with pytest.raises(ValueError) as info:
        function(np.array([[1.0, 2.0]]))
    assert str(info.value) == f"{name} must be a 1-D array, got 2 dimensions"


# --------------------------------------------------------------------------- alpha and beta
# r = .1, -.05 against b = .05, -.05: centred .075, -.075 and .05, -.05, so
# beta = cov / var = (2 * .075 * .05) / (2 * .05^2) = 1.5 (the ddof cancels) and
# alpha per period = mean(r) - 1.5 mean(b) = .025.
AB_R = np.array([0.1, -0.05])
AB_B = np.array([0.05, -0.05])


def test_alpha_and_beta_of_two_returns_with_the_default_rate_and_year() -> None:
    alpha, beta = alpha_beta(AB_R, AB_B)
    assert beta == pytest.approx(1.5, rel=1e-12)
    assert alpha == pytest.approx(1.025**252 - 1, rel=1e-12)


def test_alpha_subtracts_the_risk_free_rate_from_both_sides() -> None:
    rf_p = 1.05 ** (1 / 365) - 1
    alpha, beta = alpha_beta(AB_R, AB_B, 0.05, 365)
    assert beta == pytest.approx(1.5, rel=1e-12)
    # mean(r - rf_p) - 1.5 mean(b - rf_p) = .025 + .5 rf_p
    assert alpha == pytest.approx((1.025 + 0.5 * rf_p) ** 365 - 1, rel=1e-12)


def test_alpha_and_beta_are_undefined_for_a_flat_benchmark_or_one_return() -> None:
    assert all(math.isnan(v) for v in alpha_beta(AB_R, np.array([0.01, 0.01])))
    assert all(math.isnan(v) for v in alpha_beta(AB_R[:1], AB_B[:1]))


def test_alpha_beta_names_a_bad_input() -> None:
    with pytest.raises(ValueError, match=r"^returns must be a 1-D array, got 2 dimensions$"):
        alpha_beta(AB_R.reshape(1, 2), AB_B)
    with pytest.raises(ValueError, match=r"^benchmark_returns must be a 1-D array, got 2 dim"):
        alpha_beta(AB_R, AB_B.reshape(1, 2))
    with pytest.raises(ValueError, match=r"\(returns=2, benchmark_returns=1\)$"):
        alpha_beta(AB_R, AB_B[:1])


# --------------------------------------------------------------------------- accounts at zero


@pytest.fixture(params=["kernel", "reference"])
def drawdown_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both the compiled drawdowns and the NumPy reference they are checked against."""
    if request.param == "reference":
        monkeypatch.setattr(kernel, "KERNEL", None)
    elif kernel.KERNEL is None:
        pytest.skip("the compiled kernel is not built")


@pytest.mark.filterwarnings("error")
@pytest.mark.usefixtures("drawdown_path")
def test_a_drawdown_below_a_peak_of_zero_is_undefined_without_warnings() -> None:
    # equity / running peak - 1 with peaks 0, 0, 2, 2: 0/0 and -1/0 are NaN and -inf (IEEE).
    dd = drawdown_series(np.array([0.0, -1.0, 2.0, 1.0]))
    assert math.isnan(dd[0])
    assert dd[1:].tolist() == [-math.inf, 0.0, -0.5]


@pytest.mark.filterwarnings("error")
def test_daily_returns_after_a_wipe_out_are_ieee_quotients_without_warnings() -> None:
    # 0 / 100 - 1 = -1, then 0 / 0 (NaN) and 5 / 0 (inf).
    returns = daily_returns(_ts(0, DAY_NS, 2 * DAY_NS, 3 * DAY_NS), np.array([100, 0, 0, 5.0]))
    assert returns[0] == -1.0 and math.isnan(returns[1]) and returns[2] == math.inf


# --------------------------------------------------------------------------- return statistics
# r = .1, -.05: mean .025, sample std .075 sqrt(2), downside sqrt(.05^2 / 2) = .05 / sqrt(2).
TWO = np.array([0.1, -0.05])


def test_two_returns_define_volatility_sharpe_and_sortino_over_252_days_by_default() -> None:
    std = 0.075 * math.sqrt(2)
    assert annualized_volatility(TWO, 252) == pytest.approx(std * math.sqrt(252), rel=1e-12)
    assert sharpe_ratio(TWO) == pytest.approx(0.025 / std * math.sqrt(252), rel=1e-12)
    downside = 0.05 / math.sqrt(2)
    assert sortino_ratio(TWO) == pytest.approx(0.025 / downside * math.sqrt(252), rel=1e-12)


@pytest.mark.parametrize("function", [annualized_volatility, sharpe_ratio, sortino_ratio])
def test_one_return_has_no_spread(function: Any) -> None:
    assert math.isnan(function(np.array([-0.05]), periods_per_year=252))


def test_the_risk_free_rate_is_the_sortino_target() -> None:
    # rf_p = 1.05^(1/252) - 1; only .1 - rf_p stays above the target.
    rf_p = 1.05 ** (1 / 252) - 1
    downside = math.sqrt((0.05 + rf_p) ** 2 / 2)
    expected = (0.025 - rf_p) / downside * math.sqrt(252)
    assert sortino_ratio(TWO, 0.05, 252) == pytest.approx(expected, rel=1e-12)


def test_one_return_is_its_own_value_at_risk_and_shortfall() -> None:
    assert value_at_risk(np.array([-0.02])) == -0.02
    assert conditional_value_at_risk(np.array([-0.02])) == -0.02
    assert math.isnan(value_at_risk(np.array([])))
    assert math.isnan(conditional_value_at_risk(np.array([])))


def test_annualized_return_of_one_period() -> None:
    assert annualized_return(np.array([0.01]), 12) == pytest.approx(1.01**12 - 1, rel=1e-12)
    assert math.isnan(annualized_return(np.array([]), 252))


@pytest.mark.parametrize(
    "function",
    [
        annualized_return,
        annualized_volatility,
        sharpe_ratio,
        sortino_ratio,
        probabilistic_sharpe_ratio,
        value_at_risk,
        conditional_value_at_risk,
    ],
)
def test_return_statistics_name_a_bad_input(function: Any) -> None:
    args = (252,) if function in (annualized_return, annualized_volatility) else ()
    with pytest.raises(ValueError) as info:
        function(np.ones((2, 3)), *args)
    assert str(info.value) == "returns must be a 1-D array, got 2 dimensions"


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def test_psr_of_a_right_skewed_record_with_three_returns_or_more() -> None:
    # .3, 0, 0, 0: mean .075, sample std sqrt((.225^2 + 3 * .075^2) / 3) = .15, SR = 1/2; one
    # value in four above the rest has skewness (3/4 - 1/4) / sqrt(3/16) = 2/sqrt(3) and
    # kurtosis skew^2 + 1 = 7/3, so the radicand 1 - 1/sqrt(3) + 1/12 is below 1.
    sr, g3, g4 = 0.5, 2 / math.sqrt(3), 7 / 3
    z = sr * math.sqrt(3) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    psr = probabilistic_sharpe_ratio(np.array([0.3, 0.0, 0.0, 0.0]))
    assert psr == pytest.approx(_phi(z), rel=1e-12)
    # Three returns are the fewest: .3, 0, 0 has SR = .1 / sqrt(.03) and p = 1/3.
    sr, g3 = 0.1 / math.sqrt(0.03), (2 / 3 - 1 / 3) / math.sqrt(2 / 9)
    z = sr * math.sqrt(2) / math.sqrt(1 - g3 * sr + g3**2 / 4 * sr**2)
    psr = probabilistic_sharpe_ratio(np.array([0.3, 0.0, 0.0]))
    assert psr == pytest.approx(_phi(z), rel=1e-12)
    assert math.isnan(probabilistic_sharpe_ratio(np.array([0.3, 0.0])))


@pytest.mark.parametrize(
    "returns",
    [[0.0, 0.3, 0.0, 0.0], [0.0, 0.0, 0.3, 0.0], [0.0, 0.0, 0.0, 0.3], [0.0, 0.3, 0.0, 0.0, 0.0]],
)
def test_psr_does_not_depend_on_where_the_flat_days_fall(returns: list[float]) -> None:
    # The moments are means over all days, so any order gives the case above; with five
    # days (one up .3, four flat): mean .06, sample std sqrt(.072 / 4), skewness
    # (4/5 - 1/5) / sqrt(4/25) = 3/2 and kurtosis 13/4.
    if len(returns) == 4:
        sr, g3, g4 = 0.5, 2 / math.sqrt(3), 7 / 3
    else:
        sr, g3, g4 = 0.06 / math.sqrt(0.018), 1.5, 3.25
    n = len(returns)
    z = sr * math.sqrt(n - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    assert probabilistic_sharpe_ratio(np.array(returns)) == pytest.approx(_phi(z), rel=1e-12)


def test_psr_of_a_zero_mean_record_is_one_half() -> None:
    # SR = 0, so z = 0 whatever the moments (here a population variance of exactly 1).
    assert probabilistic_sharpe_ratio(np.array([1.0, -1.0, 1.0, -1.0])) == 0.5


def test_psr_against_a_benchmark_sharpe() -> None:
    # .3, 0, 0, 0 against SR* = .25 per period: z = (.5 - .25) sqrt(3) / sqrt(radicand).
    radicand = 1 - 1 / math.sqrt(3) + (4 / 3) / 4 * 0.25
    expected = _phi(0.25 * math.sqrt(3) / math.sqrt(radicand))
    psr = probabilistic_sharpe_ratio(np.array([0.3, 0.0, 0.0, 0.0]), benchmark_sharpe=0.25)
    assert psr == pytest.approx(expected, rel=1e-12)


def test_psr_subtracts_the_risk_free_rate_over_252_periods_by_default() -> None:
    # .3, 0, 0, 0 less rf_p: the same moments, SR = (.075 - rf_p) / .15.
    rf_p = 1.05 ** (1 / 252) - 1
    sr, g3, g4 = (0.075 - rf_p) / 0.15, 2 / math.sqrt(3), 7 / 3
    z = sr * math.sqrt(3) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    psr = probabilistic_sharpe_ratio(np.array([0.3, 0.0, 0.0, 0.0]), 0.05)
    assert psr == pytest.approx(_phi(z), rel=1e-12)


def test_cvar_averages_floor_of_five_percent_of_n_minus_one_plus_one_worst_returns() -> None:
    # 21 returns 0, -.01, ..., -.20: k = floor(20 * .05) + 1 = 2, so (-.20 - .19) / 2.
    returns = -0.01 * np.arange(21)
    assert conditional_value_at_risk(returns) == pytest.approx(-0.195, rel=1e-12)
    # 20 returns: k = floor(19 * .05) + 1 = 1, the worst alone.
    assert conditional_value_at_risk(returns[:20]) == pytest.approx(-0.19, rel=1e-12)


@pytest.mark.parametrize(
    ("annual", "periods", "expected"),
    [(0.05, 1, 0.05), (0.21, 2, 0.1), (-0.19, 2, -0.1), (0.0, 252, 0.0)],
)
def test_per_period_rate_compounds_back_to_the_annual_rate(
    annual: float, periods: float, expected: float
) -> None:
    assert per_period_rate(annual, periods) == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("periods", [0, -252])
def test_per_period_rate_needs_a_positive_number_of_periods(periods: float) -> None:
    with pytest.raises(ValueError, match=rf"^periods_per_year must be > 0, got {periods}$"):
        per_period_rate(0.05, periods)


@pytest.mark.parametrize(
    ("pnl", "sign", "expected"),
    [
        ([1.0, -1.0, 1.0, 1.0], 1, 2),  # the longer streak comes second
        ([-1.0, 1.0, -1.0, -1.0, -1.0, 1.0, -1.0], -1, 3),
        ([1.0, 1.0, 1.0, -1.0, 1.0, 0.0, 1.0, 1.0], 1, 3),
        ([0.0, 0.0], 1, 0),
    ],
)
def test_max_consecutive_finds_the_longest_of_several_streaks(
    pnl: list[float], sign: int, expected: int
) -> None:
    assert max_consecutive(np.array(pnl), sign) == expected


def test_max_consecutive_names_a_bad_input() -> None:
    with pytest.raises(ValueError, match=r"^trade_pnl must be a 1-D array, got 2 dimensions$"):
        max_consecutive(np.ones((1, 2)), 1)


def test_integer_inputs_come_back_as_int64_days_and_float_closes() -> None:
    days, closes = daily_closes(_ts(0, DAY_NS).astype(np.uint64), np.array([1, 2]))
    assert (days.dtype, days.tolist()) == (np.int64, [19_723, 19_724])
    assert (closes.dtype, closes.tolist()) == (np.float64, [1.0, 2.0])


@pytest.mark.parametrize("function", [daily_returns, drawdown_series])
def test_equity_functions_name_a_bad_input(function: Any) -> None:
    args = (_ts(0, DAY_NS),) if function is daily_returns else ()
    with pytest.raises(ValueError, match=r"^equity must be a 1-D array, got 2 dimensions$"):
        function(*args, np.ones((1, 2)))


def test_daily_returns_need_one_timestamp_per_bar() -> None:
    with pytest.raises(ValueError, match=r"same length \(timestamps=2, equity=3\)$"):
        daily_returns(_ts(0, DAY_NS), np.ones(3))


def test_max_drawdown_of_nothing_is_undefined() -> None:
    assert math.isnan(max_drawdown(np.array([])))


def test_an_infinite_ratio_is_undefined() -> None:
    # docs/metrics.md: undefined values include an infinite ratio.
    assert math.isnan(calmar_ratio(math.inf, -0.2))
    assert math.isnan(calmar_ratio(0.1, 0.0))
    assert calmar_ratio(0.1, -0.2) == pytest.approx(0.5, rel=1e-12)


@pytest.mark.parametrize(
    ("returns", "level", "expected"),
    [
        # Position (N - 1)(1 - level) in the sorted returns, interpolated linearly.
        ([0.1, -0.2, 0.3], 0.25, 0.2),  # sorted -.2, .1, .3; position 1.5: .1 + .5 * .2
        ([0.1, -0.2, 0.3], 0.0, 0.3),  # position 2, the last
        ([0.1, -0.2, 0.3], 1.0, -0.2),  # position 0, the first
        # 12 returns, position .55: -.10 + .55 * (-.02 - -.10)
        ([-0.1, -0.02] + [0.01] * 10, 0.95, -0.1 + 0.55 * 0.08),
        # 31 returns 0, -.01, ..., -.30: position 1.5 between -.29 and -.28
        ((-0.01 * np.arange(31)).tolist(), 0.95, -0.285),
    ],
)
def test_value_at_risk_interpolates_between_order_statistics(
    returns: list[float], level: float, expected: float
) -> None:
    assert value_at_risk(np.array(returns), level) == pytest.approx(expected, rel=1e-12)


def test_value_at_risk_is_numpys_linear_quantile_to_the_bit() -> None:
    # docs/metrics.md: the quantile with NumPy's default (linear) interpolation.
    rng = np.random.default_rng(16)
    for n in (2, 3, 7, 20, 21, 250, 1000):
        for level in (0.95, 0.99, 0.9, 0.5, 0.37):
            returns = rng.normal(0.0005, 0.02, n)
            assert value_at_risk(returns, level) == float(np.quantile(returns, 1.0 - level))
