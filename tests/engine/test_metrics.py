"""Statistics: every number worked by hand on tiny series, edge cases, and a cross-check of the
return-based statistics against empyrical and quantstats where the conventions coincide."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from backtesting.engine import metrics as m

DAY = 86_400 * 10**9
HOUR = 3_600 * 10**9
MON_2024_01_01 = 1_704_067_200 * 10**9  # 2024-01-01T00:00:00Z, a Monday
SQRT252 = math.sqrt(252)

# Five weekday bars, Mon 1 .. Fri 5 January 2024, one bar per day.
TS = MON_2024_01_01 + np.arange(5) * DAY
# Daily returns +10 %, -10 %, +10 %, +10 %: 100 -> 110 -> 99 -> 108.9 -> 119.79
EQUITY = np.array([100.0, 110.0, 99.0, 108.9, 119.79])
RETURNS = [0.1, -0.1, 0.1, 0.1]
# Benchmark returns +5 %, -10 %, +5 %, +5 %
BENCH = np.array([100.0, 105.0, 94.5, 99.225, 104.18625])
EXPOSURE = np.array([0.0, 1.0, 1.0, 0.5, 0.0])
# Trades: win, win, break-even, loss, loss
PNL = np.array([10.0, 20.0, 0.0, -5.0, -5.0])
RET = np.array([0.1, 0.2, 0.0, -0.05, -0.05])
BARS = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
DUR = BARS * DAY


def stats(**overrides: object) -> dict[str, m.StatValue]:
    kwargs: dict[str, object] = {
        "timestamps": TS,
        "equity": EQUITY,
        "exposure": EXPOSURE,
        "trade_pnl": PNL,
        "trade_return": RET,
        "trade_bars": BARS,
        "trade_duration_ns": DUR,
        "benchmark_close": BENCH,
    }
    kwargs.update(overrides)
    return m.compute_statistics(**kwargs)  # type: ignore[arg-type]


def close(x: float) -> object:
    return pytest.approx(x, rel=1e-12, abs=1e-12)


# --------------------------------------------------------------------------- building blocks


def test_daily_returns_of_one_bar_per_day_are_close_to_close() -> None:
    assert m.daily_returns(TS, EQUITY) == pytest.approx(RETURNS)


def test_daily_returns_take_the_last_bar_of_each_utc_day_and_keep_day_one_intraday() -> None:
    # bars 09:00, 17:00 on day 1 and 09:00, 17:00 on day 2
    ts = MON_2024_01_01 + np.array([9, 17, 33, 41]) * HOUR
    equity = np.array([100.0, 102.0, 90.0, 96.9])
    # day 1: first bar 100 -> close 102 = +2 %; day 2: 102 -> 96.9 = -5 %
    assert m.daily_returns(ts, equity) == pytest.approx([0.02, -0.05])


def test_infer_periods_per_year_looks_for_saturday_bars() -> None:
    assert m.infer_periods_per_year(TS) == 252
    assert m.infer_periods_per_year(MON_2024_01_01 + np.arange(7) * DAY) == 365
    # a Sunday-evening FX open alone does not make a 7-day calendar
    assert m.infer_periods_per_year(MON_2024_01_01 + np.array([-3, 0]) * HOUR) == 252


def test_per_period_rate_compounds_to_the_annual_rate() -> None:
    assert (1 + m.per_period_rate(0.05, 252)) ** 252 == close(1.05)


def test_sharpe_and_sortino_by_hand() -> None:
    # mean = 0.2/4 = 0.05; deviations .05,-.15,.05,.05 -> sum sq .03 -> std(ddof=1) = sqrt(.01)
    assert m.sharpe_ratio(np.array(RETURNS), 0.0, 252) == close(0.05 / 0.1 * SQRT252)
    # downside over ALL 4 periods: sqrt((0+.01+0+0)/4) = .05
    assert m.sortino_ratio(np.array(RETURNS), 0.0, 252) == close(0.05 / 0.05 * SQRT252)


def test_sharpe_subtracts_the_per_period_risk_free_rate() -> None:
    rf_p = 1.05 ** (1 / 252) - 1
    expected = (0.05 - rf_p) / 0.1 * SQRT252  # the std of excess returns is unchanged
    assert m.sharpe_ratio(np.array(RETURNS), 0.05, 252) == close(expected)


def test_drawdown_series_and_episodes_by_hand() -> None:
    # peaks 100,110,110,110,119.79 -> dd 0, 0, 99/110-1 = -.1, 108.9/110-1 = -.01, 0
    assert m.drawdown_series(EQUITY) == pytest.approx([0, 0, -0.1, -0.01, 0])
    episodes = m.drawdown_episodes(TS, EQUITY)
    # one episode: peak on day 1 (index 1), recovered on day 4 (index 4) -> 3 days
    assert episodes.depth.tolist() == pytest.approx([-0.1])
    assert episodes.duration_ns.tolist() == [3 * DAY]
    assert episodes.recovered.tolist() == [True]


def test_an_unrecovered_drawdown_lasts_until_the_last_bar() -> None:
    episodes = m.drawdown_episodes(TS[:4], np.array([100.0, 90.0, 95.0, 80.0]))
    assert episodes.depth.tolist() == pytest.approx([-0.2])
    assert episodes.duration_ns.tolist() == [3 * DAY]
    assert episodes.recovered.tolist() == [False]


def test_psr_by_hand() -> None:
    # SR = .05/.1 = .5 per period; centred .05,-.15,.05,.05
    # m2 = .03/4 = .0075; m3 = (3*.05^3 - .15^3)/4 = -.00075; m4 = (3*.05^4 + .15^4)/4 = .00013125
    g3 = -0.00075 / 0.0075**1.5  # -1.1547
    g4 = 0.00013125 / 0.0075**2  # 2.3333
    z = 0.5 * math.sqrt(4 - 1) / math.sqrt(1 - g3 * 0.5 + (g4 - 1) / 4 * 0.25)
    expected = 0.5 * (1 + math.erf(z / math.sqrt(2)))  # Phi(0.672) = 0.749
    assert m.probabilistic_sharpe_ratio(np.array(RETURNS)) == close(expected)
    assert expected == pytest.approx(0.7492, abs=1e-4)


def test_var_and_cvar_by_hand() -> None:
    # sorted -.1, .1, .1, .1; 5 % quantile at position .05*3 = .15: -.1 + .15*(.1-(-.1)) = -.07
    assert m.value_at_risk(np.array(RETURNS)) == close(-0.07)
    # k = floor(3*.05)+1 = 1 worst return
    assert m.conditional_value_at_risk(np.array(RETURNS)) == close(-0.1)


def test_trade_helpers_by_hand() -> None:
    assert m.profit_factor(PNL) == close(30 / 10)
    # mean 4, deviations 6,16,-4,-9,-9 -> squares 470 -> std sqrt(470/4); sqrt(5)*4/std
    assert m.sqn(PNL) == close(math.sqrt(5) * 4 / math.sqrt(117.5))
    # p = 2/5, q = 2/5, b = .15/.05 = 3 -> .4 - .4/3
    assert m.kelly_criterion(RET) == close(0.4 - 0.4 / 3)
    assert m.max_consecutive(PNL, 1) == 2
    assert m.max_consecutive(PNL, -1) == 2
    # a break-even trade ends a streak
    assert m.max_consecutive(np.array([1.0, 0.0, 1.0]), 1) == 1


# --------------------------------------------------------------------------- the full report


def test_overview_statistics_by_hand() -> None:
    s = stats()
    assert s["start"] == "2024-01-01T00:00:00+00:00"
    assert s["end"] == "2024-01-05T00:00:00+00:00"
    assert s["duration_days"] == 4.0
    assert (s["n_bars"], s["n_days"], s["periods_per_year"]) == (5, 5, 252.0)
    assert s["exposure_time"] == close(3 / 5)  # bars 1, 2, 3 hold a position
    assert s["average_exposure"] == close(2.5 / 5)
    assert (s["equity_start"], s["equity_final"]) == (100.0, 119.79)
    assert s["equity_peak"] == 119.79
    assert s["total_return"] == close(0.1979)
    assert s["buy_and_hold_return"] == close(0.0418625)


def test_return_statistics_by_hand() -> None:
    s = stats()
    growth = 1.1 * 0.9 * 1.1 * 1.1  # 1.1979
    assert s["annualized_return"] == close(growth ** (252 / 4) - 1)
    assert s["cagr"] == close(growth ** (365.25 / 4) - 1)  # 4 calendar days
    assert s["annualized_volatility"] == close(0.1 * SQRT252)
    assert s["sharpe_ratio"] == close(0.5 * SQRT252)
    assert s["sortino_ratio"] == close(SQRT252)
    assert s["calmar_ratio"] == close((growth ** (252 / 4) - 1) / 0.1)
    assert s["var_95"] == close(-0.07)
    assert s["cvar_95"] == close(-0.1)


def test_drawdown_statistics_by_hand() -> None:
    s = stats()
    assert s["max_drawdown"] == close(-0.1)
    assert s["avg_drawdown"] == close(-0.1)
    assert s["max_drawdown_duration_days"] == 3.0
    assert s["avg_drawdown_duration_days"] == 3.0
    assert s["n_drawdowns"] == 1


def test_alpha_and_beta_by_hand() -> None:
    s = stats()
    # centred benchmark returns .0375,-.1125,.0375,.0375 are .75 x the strategy's,
    # so beta = .75 var / (.75^2 var) = 4/3; alpha/period = .05 - 4/3 * .0125 = 1/30
    assert s["beta"] == close(4 / 3)
    assert s["alpha"] == close((1 + 1 / 30) ** 252 - 1)


def test_trade_statistics_by_hand() -> None:
    s = stats()
    assert (s["n_trades"], s["n_wins"], s["n_losses"], s["n_breakeven"]) == (5, 2, 2, 1)
    assert s["win_rate"] == close(0.4)  # break-even counts in the denominator only
    assert s["loss_rate"] == close(0.4)
    assert (s["best_trade"], s["worst_trade"]) == (0.2, -0.05)
    assert s["avg_trade_return"] == close(0.2 / 5)
    assert (s["avg_win"], s["avg_loss"]) == (15.0, -5.0)
    assert s["avg_win_return"] == close(0.15)
    assert s["avg_loss_return"] == close(-0.05)
    assert s["profit_factor"] == close(3.0)
    assert s["expectancy"] == close(4.0)  # 20 / 5
    assert s["expectancy_return"] == close(0.04)
    assert s["sqn"] == close(math.sqrt(5) * 4 / math.sqrt(117.5))
    assert s["kelly_criterion"] == close(0.4 - 0.4 / 3)
    assert (s["max_consecutive_wins"], s["max_consecutive_losses"]) == (2, 2)
    assert s["avg_trade_bars"] == 3.0
    assert s["max_trade_bars"] == 5
    assert (s["avg_trade_duration_days"], s["max_trade_duration_days"]) == (3.0, 5.0)


def test_monthly_and_yearly_tables_compound_to_the_total_return() -> None:
    # 31 Dec 2023 -> 1 Jan 2024 -> 1 Feb 2024
    ts = MON_2024_01_01 + np.array([-1, 0, 31]) * DAY
    s = stats(
        timestamps=ts,
        equity=np.array([100.0, 110.0, 99.0]),
        exposure=np.zeros(3),
        benchmark_close=None,
    )
    # Dec: 100/100-1 = 0 (first bar); Jan: 110/100-1 = .1; Feb: 99/110-1 = -.1
    assert s["monthly_returns"] == [
        {"year": 2023, "month": 12, "return": 0.0},
        {"year": 2024, "month": 1, "return": close(0.1)},
        {"year": 2024, "month": 2, "return": close(-0.1)},
    ]
    assert s["yearly_returns"] == [
        {"year": 2023, "return": 0.0},
        {"year": 2024, "return": close(-0.01)},
    ]


def test_the_report_is_plain_json() -> None:
    s = stats()
    assert json.loads(json.dumps(s, allow_nan=False)) == s


def test_periods_per_year_and_risk_free_rate_can_be_overridden() -> None:
    s = stats(periods_per_year=365, risk_free_rate=0.05)
    rf_p = 1.05 ** (1 / 365) - 1
    assert s["periods_per_year"] == 365.0
    assert s["sharpe_ratio"] == close((0.05 - rf_p) / 0.1 * math.sqrt(365))


# --------------------------------------------------------------------------- edge cases

NO_TRADES = {
    "trade_pnl": np.array([]),
    "trade_return": np.array([]),
    "trade_bars": np.array([]),
    "trade_duration_ns": np.array([]),
}


def test_no_trades_gives_counts_of_zero_and_undefined_ratios() -> None:
    s = stats(**NO_TRADES)
    assert (s["n_trades"], s["max_consecutive_wins"], s["max_consecutive_losses"]) == (0, 0, 0)
    for key in ("win_rate", "profit_factor", "sqn", "kelly_criterion", "best_trade", "expectancy"):
        assert s[key] is None, key
    assert s["sharpe_ratio"] == close(0.5 * SQRT252)  # equity statistics are unaffected


def test_flat_equity_has_no_risk_and_no_risk_adjusted_ratios() -> None:
    s = stats(equity=np.full(5, 100.0), exposure=np.zeros(5), **NO_TRADES)
    assert (s["total_return"], s["annualized_return"], s["annualized_volatility"]) == (0, 0, 0)
    assert (s["max_drawdown"], s["n_drawdowns"], s["max_drawdown_duration_days"]) == (0, 0, 0)
    for key in ("sharpe_ratio", "sortino_ratio", "calmar_ratio", "probabilistic_sharpe_ratio"):
        assert s[key] is None, key
    assert s["exposure_time"] == 0.0


def test_a_single_bar_reports_what_it_can() -> None:
    s = stats(
        timestamps=TS[:1],
        equity=EQUITY[:1],
        exposure=EXPOSURE[:1],
        benchmark_close=BENCH[:1],
        **NO_TRADES,
    )
    assert (s["duration_days"], s["total_return"], s["max_drawdown"]) == (0.0, 0.0, 0.0)
    for key in ("annualized_return", "cagr", "annualized_volatility", "sharpe_ratio", "alpha"):
        assert s[key] is None, key
    assert s["buy_and_hold_return"] == 0.0


def test_one_intraday_day_has_one_return() -> None:
    ts = MON_2024_01_01 + np.arange(3) * HOUR
    s = stats(timestamps=ts, equity=np.array([100.0, 95.0, 101.0]), exposure=np.ones(3),
              benchmark_close=None, **NO_TRADES)  # fmt: skip
    assert s["annualized_return"] == close(1.01**252 - 1)  # one +1 % day
    assert s["sharpe_ratio"] is None  # needs two returns
    assert s["max_drawdown"] == close(-0.05)  # intraday dip counts
    assert s["max_drawdown_duration_days"] == close(2 / 24)


def test_all_losing_trades() -> None:
    pnl = np.array([-1.0, -2.0, -3.0])
    s = stats(trade_pnl=pnl, trade_return=pnl / 100, trade_bars=np.ones(3),
              trade_duration_ns=np.full(3, DAY))  # fmt: skip
    assert (s["win_rate"], s["profit_factor"], s["max_consecutive_losses"]) == (0.0, 0.0, 3)
    assert s["kelly_criterion"] is None  # no winning trade to size a bet on
    assert s["avg_win"] is None
    assert s["sqn"] == close(math.sqrt(3) * -2 / 1)


def test_wins_without_losses_have_an_unbounded_profit_factor() -> None:
    pnl = np.array([1.0, 2.0])
    s = stats(trade_pnl=pnl, trade_return=pnl / 10, trade_bars=np.ones(2),
              trade_duration_ns=np.full(2, DAY))  # fmt: skip
    assert s["profit_factor"] is None  # inf does not exist in JSON
    assert s["kelly_criterion"] == 1.0  # p - q/b with q = 0


def test_a_wiped_out_account_annualises_to_minus_one() -> None:
    equity = np.array([100.0, 50.0, 0.0, 0.0, 0.0])
    s = stats(equity=equity, **NO_TRADES)
    assert (s["annualized_return"], s["cagr"], s["max_drawdown"]) == (-1.0, -1.0, -1.0)


def test_mismatched_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="same length"):
        stats(exposure=np.zeros(4))
    with pytest.raises(ValueError, match="same length"):
        stats(trade_bars=np.ones(2))
    with pytest.raises(ValueError, match="strictly increasing"):
        stats(timestamps=TS[::-1].copy())
    with pytest.raises(ValueError, match="integers"):
        stats(timestamps=TS.astype(float))


# --------------------------------------------------------------------------- cross-checks


@pytest.fixture(scope="module")
def sample() -> dict[str, np.ndarray]:
    """500 business days of a noisy strategy and a correlated benchmark."""
    rng = np.random.default_rng(7)
    days = np.arange(np.datetime64("2021-01-04"), np.datetime64("2023-12-29"))
    days = days[np.is_busday(days)][:500]
    bench_r = rng.normal(0.0004, 0.011, len(days) - 1)
    strat_r = 0.0003 + 0.6 * bench_r + rng.standard_t(4, len(days) - 1) * 0.006
    return {
        "ts": days.astype("datetime64[ns]").astype(np.int64),
        "equity": 1e4 * np.cumprod(np.concatenate(([1.0], 1 + strat_r))),
        "bench": 50 * np.cumprod(np.concatenate(([1.0], 1 + bench_r))),
        "r": strat_r,
        "b": bench_r,
    }


RF = 0.03


def test_return_statistics_match_empyrical(sample: dict[str, np.ndarray]) -> None:
    ep = pytest.importorskip("empyrical")
    r, b, rf_p = sample["r"], sample["b"], m.per_period_rate(RF, 252)
    assert m.daily_returns(sample["ts"], sample["equity"]) == pytest.approx(r, rel=1e-9)
    assert m.annualized_return(r, 252) == pytest.approx(ep.annual_return(r), rel=1e-10)
    assert m.annualized_volatility(r, 252) == pytest.approx(ep.annual_volatility(r), rel=1e-10)
    assert m.sharpe_ratio(r, RF, 252) == pytest.approx(ep.sharpe_ratio(r, rf_p), rel=1e-10)
    assert m.sortino_ratio(r, RF, 252) == pytest.approx(
        ep.sortino_ratio(r, required_return=rf_p), rel=1e-10
    )
    assert m.max_drawdown(sample["equity"]) == pytest.approx(ep.max_drawdown(r), rel=1e-10)
    calmar = m.calmar_ratio(m.annualized_return(r, 252), m.max_drawdown(sample["equity"]))
    assert calmar == pytest.approx(ep.calmar_ratio(r), rel=1e-10)
    alpha, beta = m.alpha_beta(r, b, RF, 252)
    ep_alpha, ep_beta = ep.alpha_beta(r, b, risk_free=rf_p)
    assert (alpha, beta) == (pytest.approx(ep_alpha, rel=1e-9), pytest.approx(ep_beta, rel=1e-9))
    assert m.value_at_risk(r) == pytest.approx(ep.value_at_risk(r), rel=1e-12)
    assert m.conditional_value_at_risk(r) == pytest.approx(
        ep.conditional_value_at_risk(r), rel=1e-12
    )


def test_return_statistics_match_quantstats(sample: dict[str, np.ndarray]) -> None:
    qs = pytest.importorskip("quantstats")
    pd = pytest.importorskip("pandas")
    index = pd.to_datetime(sample["ts"][1:], utc=True).tz_localize(None)
    series = pd.Series(sample["r"], index=index)
    r = sample["r"]
    assert m.sharpe_ratio(r, RF, 252) == pytest.approx(
        qs.stats.sharpe(series, rf=RF, periods=252), rel=1e-9
    )
    assert m.sortino_ratio(r, RF, 252) == pytest.approx(
        qs.stats.sortino(series, rf=RF, periods=252), rel=1e-9
    )
    # quantstats uses bias-corrected skew/kurtosis (pandas); we use population moments as in
    # Bailey & Lopez de Prado. With 499 returns the two agree to well under 0.1 %.
    assert m.probabilistic_sharpe_ratio(r, RF, 252) == pytest.approx(
        qs.stats.probabilistic_sharpe_ratio(series, rf=RF, periods=252), rel=1e-3
    )


def test_psr_matches_scipy_population_moments(sample: dict[str, np.ndarray]) -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    excess = sample["r"] - m.per_period_rate(RF, 252)
    sr = excess.mean() / excess.std(ddof=1)
    g3 = scipy_stats.skew(excess, bias=True)
    g4 = scipy_stats.kurtosis(excess, fisher=False, bias=True)
    z = sr * math.sqrt(len(excess) - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    expected = scipy_stats.norm.cdf(z)
    assert m.probabilistic_sharpe_ratio(sample["r"], RF, 252) == pytest.approx(expected, rel=1e-10)


def test_the_psr_moments_are_products_of_the_square_bit_for_bit() -> None:
    # The documented moments (docs/metrics.md): mean(c*c*c) and mean((c*c)*(c*c)), the same
    # bits on every machine. NumPy's c**3 is not that: on a machine with AVX-512 its power
    # differs in the last bit for about a quarter of the elements here (and costs ~60x more).
    from backtesting.engine.research.deflated_sharpe import return_moments

    r = np.random.default_rng(3).normal(0.0004, 0.012, 2_520)
    centred = r - np.mean(r)
    squares = [v * v for v in centred.tolist()]  # Python floats: one IEEE product each
    cubes = [s * v for s, v in zip(squares, centred.tolist(), strict=True)]
    m3 = float(np.add.reduce(np.array(cubes)))
    m4 = float(np.add.reduce(np.array([s * s for s in squares])))
    m3, m4, m2 = m3 / len(r), m4 / len(r), float(np.mean(centred**2))
    moments = return_moments(r)
    assert (moments.skewness, moments.kurtosis) == (m3 / m2**1.5, m4 / m2**2)
    assert m.third_and_fourth_moments(centred) == (m3, m4)  # what the statistics' PSR uses
