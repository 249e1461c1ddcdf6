"""compute_statistics is bit-identical to the straightforward computation it replaced, and
its headline mode (full=False) to the full one.

The reference below is compute_statistics as it was before the shared intermediates: every
return statistic recomputes its own excess returns, mean and standard deviation, the calendar
tables convert the days to months separately, and nothing is skipped. The comparison is on
the exact bits of every float (float.hex), not approximate.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtesting.engine import BacktestSpec, Strategy, run_backtest
from backtesting.engine import metrics as m
from backtesting.engine.spec import CostModel
from backtesting.sandbox.compact import HEADLINE_METRICS
from tests.engine.helpers import SmaCross, SmaCrossSignals, random_bars

DAY = 86_400 * 10**9
HOUR = 3_600 * 10**9
START_2020 = 1_577_836_800 * 10**9  # 2020-01-01T00:00:00Z


def _reference_sharpe(r: np.ndarray, rf: float, ppy: float) -> float:
    if len(r) < 2:
        return math.nan
    excess = r - m.per_period_rate(rf, ppy)
    return m._ratio(float(np.mean(excess)), float(np.std(excess, ddof=1))) * math.sqrt(ppy)


def _reference_sortino(r: np.ndarray, rf: float, ppy: float) -> float:
    if len(r) < 2:
        return math.nan
    excess = r - m.per_period_rate(rf, ppy)
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
    return m._ratio(float(np.mean(excess)), downside) * math.sqrt(ppy)


def _reference_psr(r: np.ndarray, rf: float, ppy: float) -> float:
    if len(r) < 3:
        return math.nan
    excess = r - m.per_period_rate(rf, ppy)
    sr = m._ratio(float(np.mean(excess)), float(np.std(excess, ddof=1)))
    centred = excess - np.mean(excess)
    m2 = float(np.mean(centred**2))
    if math.isnan(sr) or m2 == 0.0:
        return math.nan
    # The third and fourth powers as products of the square (docs/metrics.md): IEEE
    # multiplications, the same bits on every machine, unlike NumPy's power.
    squared = centred * centred
    g3 = float(np.mean(squared * centred)) / m2**1.5
    g4 = float(np.mean(squared * squared)) / m2**2
    radicand = 1.0 - g3 * sr + (g4 - 1.0) / 4.0 * sr**2
    if radicand <= 0.0:
        return math.nan
    z = sr * math.sqrt(len(r) - 1) / math.sqrt(radicand)
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def reference_statistics(
    *,
    timestamps: np.ndarray,
    equity: np.ndarray,
    exposure: np.ndarray,
    trade_pnl: np.ndarray,
    trade_return: np.ndarray,
    trade_bars: np.ndarray,
    trade_duration_ns: np.ndarray,
    benchmark_close: np.ndarray | None,
    risk_free_rate: float,
    periods_per_year: float | None,
) -> dict[str, Any]:
    ts, eq = timestamps, equity
    ppy = float(periods_per_year or m.infer_periods_per_year(ts))
    rf = risk_free_rate
    rets = m.daily_returns(ts, eq)
    dd = m.drawdown_series(eq)
    ann = m.annualized_return(rets, ppy)
    if benchmark_close is None:
        bench: dict[str, object] = {"buy_and_hold_return": None, "alpha": None, "beta": None}
    else:
        alpha, beta = m.alpha_beta(rets, m.daily_returns(ts, benchmark_close), rf, ppy)
        bench = {
            "buy_and_hold_return": m._ratio(float(benchmark_close[-1]), float(benchmark_close[0]))
            - 1.0,
            "alpha": alpha,
            "beta": beta,
        }
    stats: dict[str, object] = {
        **m._overview(ts, eq, exposure, len(m.daily_closes(ts, eq)[0])),
        "periods_per_year": ppy,
        "risk_free_rate": rf,
        "annualized_return": ann,
        "cagr": m.cagr(float(eq[0]), float(eq[-1]), int(ts[0]), int(ts[-1])),
        "annualized_volatility": m.annualized_volatility(rets, ppy),
        "sharpe_ratio": _reference_sharpe(rets, rf, ppy),
        "sortino_ratio": _reference_sortino(rets, rf, ppy),
        "calmar_ratio": m.calmar_ratio(ann, m.max_drawdown(eq)),
        "probabilistic_sharpe_ratio": _reference_psr(rets, rf, ppy),
        "var_95": m.value_at_risk(rets),
        "cvar_95": m.conditional_value_at_risk(rets),
        **m._drawdown_stats(ts, dd),
        **bench,
        **m._trade_stats(trade_pnl, trade_return, trade_bars, trade_duration_ns),
        "monthly_returns": m.period_returns(ts, eq, "M"),
        "yearly_returns": m.period_returns(ts, eq, "Y"),
    }
    return {key: m._clean(value) for key, value in stats.items()}


def bits(value: object) -> object:
    """Exact representation: floats by their hex bits, containers element by element."""
    if isinstance(value, float):
        return ("float", value.hex())
    if isinstance(value, dict):
        return {k: bits(v) for k, v in value.items()}
    if isinstance(value, list):
        return [bits(v) for v in value]
    return (type(value).__name__, value)


@st.composite
def backtests(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 400))
    # Gaps of an hour to four days: several bars a day, weekends and missing days.
    gaps = draw(st.lists(st.sampled_from([HOUR, 5 * HOUR, DAY, 3 * DAY, 4 * DAY]), min_size=n))
    ts = START_2020 + np.concatenate(([0], np.cumsum(gaps[: n - 1]))).astype(np.int64)
    unit = st.floats(-0.2, 0.2, allow_nan=False)
    steps = np.array(draw(st.lists(unit, min_size=n, max_size=n)))
    equity = draw(st.sampled_from([100.0, 10_000.0])) * np.cumprod(1.0 + steps)
    if draw(st.booleans()):
        equity[draw(st.integers(0, n - 1)) :] = 0.0  # wiped out
    n_trades = draw(st.integers(0, 30))
    pnl = np.array(draw(st.lists(st.floats(-500, 500), min_size=n_trades, max_size=n_trades)))
    bench = 50.0 * np.cumprod(1.0 + np.array(draw(st.lists(unit, min_size=n, max_size=n))))
    return {
        "timestamps": ts,
        "equity": equity,
        "exposure": np.array(draw(st.lists(st.floats(-2, 2), min_size=n, max_size=n))),
        "trade_pnl": pnl,
        "trade_return": pnl / 1_000.0,
        "trade_bars": np.arange(n_trades, dtype=np.float64),
        "trade_duration_ns": np.arange(n_trades, dtype=np.float64) * DAY,
        "benchmark_close": draw(st.sampled_from([None, bench])),
        "risk_free_rate": draw(st.sampled_from([0.0, 0.02, 0.05])),
        "periods_per_year": draw(st.sampled_from([None, 252.0, 365.0])),
    }


@settings(max_examples=50, deadline=None)  # 16 s each at 150 in the suite
@given(backtests())
def test_statistics_are_bit_identical_to_the_reference(case: dict[str, Any]) -> None:
    expected = reference_statistics(**case)
    actual = m.compute_statistics(**case)
    assert list(actual) == list(expected)  # same keys, same order
    assert bits(actual) == bits(expected)


@settings(max_examples=50, deadline=None)  # 16 s each at 150 in the suite
@given(backtests())
def test_headline_mode_returns_the_full_values_without_the_detail(case: dict[str, Any]) -> None:
    full = m.compute_statistics(**case)
    headline = m.compute_statistics(**case, full=False)
    assert list(headline) == [key for key in full if key not in m.DETAIL_STATISTICS]
    assert bits(headline) == {key: bits(full[key]) for key in headline}


def test_headline_mode_keeps_every_metric_a_sweep_stores() -> None:
    case: dict[str, Any] = {
        "timestamps": START_2020 + np.arange(30, dtype=np.int64) * DAY,
        "equity": np.linspace(100.0, 130.0, 30),
        "exposure": np.ones(30),
        "trade_pnl": np.array([5.0, -2.0]),
        "trade_return": np.array([0.05, -0.02]),
        "trade_bars": np.array([3.0, 4.0]),
        "trade_duration_ns": np.array([3.0, 4.0]) * DAY,
        "benchmark_close": np.linspace(50.0, 60.0, 30),
    }
    headline = m.compute_statistics(**case, full=False)
    assert set(HEADLINE_METRICS) == set(headline) == set(m.HEADLINE_STATISTICS)
    assert not set(m.DETAIL_STATISTICS) & set(headline)


@pytest.mark.parametrize("strategy", [SmaCross, SmaCrossSignals], ids=["event", "vectorized"])
@pytest.mark.parametrize("commission", [0.0, 0.002])
def test_a_run_without_full_statistics_differs_only_by_the_detail(
    strategy: type[Strategy], commission: float
) -> None:
    bars = {"AAA": random_bars(600, seed=7)}
    spec = BacktestSpec(costs=CostModel(commission_pct=commission), params={"fast": 5, "slow": 30})
    full = run_backtest(spec, bars, strategy)
    headline = run_backtest(spec, bars, strategy, full_statistics=False)
    assert full.statistics["n_trades"] > 0
    assert set(m.DETAIL_STATISTICS) <= set(full.statistics)
    assert bits(headline.statistics) == {
        key: bits(value) for key, value in full.statistics.items() if key not in m.DETAIL_STATISTICS
    }
    assert np.array_equal(headline.equity, full.equity)
    assert full.indicators is not None and full.indicators.series  # the chart's SMAs
    assert headline.indicators is None  # a sweep draws no chart
