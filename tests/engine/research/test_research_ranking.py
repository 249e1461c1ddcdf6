"""Ranking sweep rows: both directions, the minimum-trade filter, undefined values never best,
ties in input order."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backtesting.engine import metrics
from backtesting.engine.research.ranking import OBJECTIVES, objective_value, rank_rows

ROWS = [
    {"sharpe_ratio": 1.2, "n_trades": 30, "total_return": 0.3, "max_drawdown": -0.1},
    {"sharpe_ratio": None, "n_trades": 40, "total_return": 0.5, "max_drawdown": 0.0},
    {"sharpe_ratio": 2.0, "n_trades": 3, "total_return": 0.9, "max_drawdown": -0.45},
    {"sharpe_ratio": math.nan, "n_trades": 50, "total_return": None, "max_drawdown": -0.2},
    {"sharpe_ratio": 1.2, "n_trades": 25, "total_return": 0.2, "max_drawdown": -0.05},
    {"sharpe_ratio": -0.5, "n_trades": 60, "total_return": -0.1, "max_drawdown": -0.2},
    {"sharpe_ratio": math.inf, "n_trades": 70, "total_return": 0.1, "max_drawdown": -0.4},
    {"n_trades": 80},
]


def test_maximise_puts_the_largest_first_and_undefined_last_in_input_order():
    assert rank_rows(ROWS, "sharpe") == [2, 0, 4, 5, 1, 3, 6, 7]


def test_minimise_reverses_the_defined_rows_but_undefined_still_come_last():
    assert rank_rows(ROWS, "sharpe_ratio", direction="min") == [5, 0, 4, 2, 1, 3, 6, 7]


def test_the_minimum_trade_count_leaves_rows_out():
    assert rank_rows(ROWS, "sharpe", min_trades=10) == [0, 4, 5, 1, 3, 6, 7]
    assert rank_rows(ROWS, "sharpe", min_trades=61) == [6, 7]
    assert rank_rows([{"sharpe_ratio": 3.0}], "sharpe", min_trades=1) == []


def test_return_over_max_drawdown_is_derived_from_total_return_and_drawdown():
    # 0.3/0.1 = 3, none (no drawdown), 0.9/0.45 = 2, none, 0.2/0.05 = 4, -0.5, 0.25, none
    assert objective_value(ROWS[0], "return_over_max_drawdown") == pytest.approx(3.0)
    assert objective_value(ROWS[1], "return_over_max_drawdown") is None
    assert rank_rows(ROWS, "return_over_max_drawdown") == [4, 0, 2, 6, 5, 1, 3, 7]


def test_ties_keep_input_order_in_both_directions():
    rows = [{"cagr": 0.1}, {"cagr": 0.2}, {"cagr": 0.1}, {"cagr": -0.0}, {"cagr": 0.0}]
    assert rank_rows(rows, "cagr") == [1, 0, 2, 3, 4]
    assert rank_rows(rows, "cagr", direction="min") == [3, 4, 0, 2, 1]


def test_every_objective_maps_to_a_statistic_and_bad_names_are_rejected():
    assert set(OBJECTIVES.values()) >= {
        "sharpe_ratio",
        "sortino_ratio",
        "calmar_ratio",
        "cagr",
        "total_return",
        "profit_factor",
    }
    assert objective_value({"profit_factor": True}, "profit_factor") is None
    assert objective_value({"profit_factor": "2"}, "profit_factor") is None
    with pytest.raises(ValueError, match="unknown objective 'sharp'"):
        rank_rows(ROWS, "sharp")
    with pytest.raises(ValueError, match="direction must be"):
        rank_rows(ROWS, "sharpe", direction="up")


def test_the_objective_keys_exist_in_the_engines_statistics():
    ts = 1_704_067_200 * 10**9 + np.arange(5) * 86_400 * 10**9
    stats = metrics.compute_statistics(
        timestamps=ts,
        equity=np.array([100.0, 110.0, 99.0, 108.9, 119.79]),
        exposure=np.ones(5),
        trade_pnl=np.array([10.0, -5.0]),
        trade_return=np.array([0.1, -0.05]),
        trade_bars=np.array([1.0, 2.0]),
        trade_duration_ns=np.array([1.0, 2.0]),
    )
    for key in set(OBJECTIVES.values()) - {"return_over_max_drawdown"}:
        assert key in stats
    assert "n_trades" in stats and "max_drawdown" in stats
    assert objective_value(stats, "return_over_max_drawdown") == pytest.approx(0.1979 / 0.1)
