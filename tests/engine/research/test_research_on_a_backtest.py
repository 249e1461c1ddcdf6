"""The research statistics fed from real engine runs, the way the jobs will feed them: a small
constrained sweep ranked with its deflated Sharpe, then Monte Carlo, the random-entry test and
walk-forward windows on the chosen combination."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from backtesting.engine import BacktestResult, BacktestSpec, BarSeries, metrics, run_backtest
from backtesting.engine.research.chance import random_entry_test, trade_arrays
from backtesting.engine.research.constraints import compile_constraint, satisfying
from backtesting.engine.research.deflated_sharpe import return_moments, sweep_deflated_sharpe
from backtesting.engine.research.montecarlo import (
    block_bootstrap_returns,
    percentile_bands,
    resample_trades,
)
from backtesting.engine.research.ranking import rank_rows
from backtesting.engine.research.walkforward import stitch_equity, walk_forward_windows
from strategies.paramspec import ParameterSpace, ParameterSpec
from tests.engine.helpers import SmaCross, random_bars

BARS = {"AAA": random_bars(800, seed=7)}


def run(params: Mapping[str, Any], bars: dict[str, BarSeries] | None = None) -> BacktestResult:
    return run_backtest(BacktestSpec(params=dict(params)), bars or BARS, SmaCross)


@pytest.fixture(scope="module")
def sweep() -> tuple[list[Mapping[str, Any]], list[BacktestResult]]:
    space = ParameterSpace(
        (
            ParameterSpec.declare("fast", 10, min=5, max=20, step=5),
            ParameterSpec.declare("slow", 20, min=10, max=40, step=10),
        )
    )
    points = list(satisfying(space.grid(), [compile_constraint("fast < slow", space.names)]))
    return points, [run(p) for p in points]


def test_a_constrained_sweep_is_ranked_and_its_best_sharpe_deflated(sweep):
    points, results = sweep
    assert len(points) == 4 * 4 - 3 - 1  # fast 10 vs slow 10, fast 15 vs 10, fast 20 vs 10, 20
    rows = [r.statistics for r in results]
    order = rank_rows(rows, "sharpe", min_trades=1)
    best = results[order[0]]
    sharpes = [row["sharpe_ratio"] for row in rows]
    assert best.statistics["sharpe_ratio"] == max(s for s in sharpes if s is not None)
    daily = metrics.daily_returns(best.timestamps, best.equity)
    ppy = best.statistics["periods_per_year"]  # 365: the test bars include weekends
    report = sweep_deflated_sharpe(return_moments(daily), sharpes, periods_per_year=ppy)
    assert report.sharpe == pytest.approx(best.statistics["sharpe_ratio"])
    assert report.probabilistic_sharpe_ratio == pytest.approx(
        best.statistics["probabilistic_sharpe_ratio"]
    )
    assert report.n_trials == len(points)
    assert report.deflated_sharpe_ratio < report.probabilistic_sharpe_ratio


def test_monte_carlo_of_a_backtests_trades_ends_at_its_final_equity(sweep):
    result = sweep[1][0]
    pnl = np.array([t["net_pnl"] for t in result.trades])
    runs = resample_trades(
        pnl, method="shuffle", n_runs=200, seed=1, kind="pnl", initial_equity=100_000.0
    )
    np.testing.assert_allclose(runs.equity[:, -1], result.final_equity, rtol=1e-9)
    daily = metrics.daily_returns(result.timestamps, result.equity)
    paths = block_bootstrap_returns(daily, mean_block_length=10, n_runs=200, seed=1)
    bands = percentile_bands(paths.equity)
    assert bands.shape == (5, len(daily) + 1)
    assert np.all(np.diff(bands, axis=0) >= 0)  # 5 <= 25 <= 50 <= 75 <= 95 at every step


def test_the_random_entry_test_takes_a_backtests_trades_and_bars(sweep):
    result = sweep[1][0]
    trades = trade_arrays(result.trades, result.symbols)
    close = BARS["AAA"].close
    a = random_entry_test(close, *trades, seed=5, first_bar=result.eval_start_bar, n_strategies=200)
    b = random_entry_test(close, *trades, seed=5, first_bar=result.eval_start_bar, n_strategies=200)
    np.testing.assert_array_equal(a.random_returns, b.random_returns)
    assert 0 < a.p_value <= 1
    assert len(a.random_returns) == 200


def test_walk_forward_windows_cut_the_bars_and_the_segments_stitch():
    windows = walk_forward_windows(800, 300, 100, 100)
    assert [(w.is_start, w.is_end, w.oos_end) for w in windows] == [
        (0, 300, 400),
        (100, 400, 500),
        (200, 500, 600),
        (300, 600, 700),
        (400, 700, 800),
    ]
    bars = BARS["AAA"]
    segments = []
    for w in windows[:2]:
        part = {"AAA": BarSeries(
            "AAA",
            *(getattr(bars, f)[w.is_end : w.oos_end] for f in (
                "timestamps", "open", "high", "low", "close", "volume"
            )),
        )}  # fmt: skip
        segments.append(run({"fast": 5, "slow": 10}, part).equity)
    stitched = stitch_equity(segments)
    assert len(stitched) == sum(len(s) for s in segments)
    growth = np.prod([s[-1] / s[0] for s in segments])
    assert stitched[-1] / stitched[0] == pytest.approx(growth)
