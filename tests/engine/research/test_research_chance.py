"""Random-entry significance: hand-worked scores and p-values, random strategies that keep the
strategy's trades' symbols, sides and holding times, a planted edge found and a random
strategy not, all reproducible from the seed (fixed seeds, so nothing is flaky)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backtesting.engine.research.chance import (
    chance_p_value,
    histogram,
    random_entry_bars,
    random_entry_test,
    trade_arrays,
    trade_set_return,
)


def random_walk(n_symbols: int, n_bars: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, 0.01, (n_symbols, n_bars))
    return 100.0 * np.exp(np.cumsum(steps, axis=1))


def test_a_trade_set_scores_its_compounded_trade_returns_by_hand():
    close = np.array([[100.0, 110.0, 99.0, 120.0], [50.0, 40.0, 45.0, 60.0]])
    # long sym 0 bars 0->1: +10 %; short sym 1 bars 0->1: -(40/50 - 1) = +20 %;
    # short sym 0 bars 1->3: -(120/110 - 1) = -9.0909 %
    got = trade_set_return(close, [0, 1, 0], [0, 0, 1], [1, 1, 3], [1, -1, -1])
    assert got == pytest.approx(1.1 * 1.2 * (1 - 10 / 110) - 1)
    with_cost = trade_set_return(close, [0], [0], [1], [1], cost_per_trade=0.01)
    assert with_cost == pytest.approx(0.09)


def test_the_p_value_counts_ties_as_at_least_as_good():
    assert chance_p_value(0.1, [0.05, 0.1, 0.2, -0.1]) == pytest.approx(3 / 5)
    assert chance_p_value(0.5, [0.05, 0.1]) == pytest.approx(1 / 3)
    assert chance_p_value(0.5, [0.6, math.nan]) == pytest.approx(2 / 3)
    assert math.isnan(chance_p_value(math.nan, [0.1]))


def test_random_entries_fit_do_not_overlap_and_cover_every_placement():
    rng = np.random.default_rng(0)
    holding = np.array([3, 0, 5, 2])
    for _ in range(200):
        entry = random_entry_bars(holding, 10, 40, rng)
        exit_ = entry + holding
        assert entry.min() >= 10 and exit_.max() <= 39
        order = np.lexsort((exit_, entry))  # a 0-bar trade may share its bar with a next one
        assert np.all(entry[order][1:] >= exit_[order][:-1])
    # One trade of 2 bars in bars 0..4 can start at 0, 1 or 2, each about a third of the time.
    starts = [int(random_entry_bars(np.array([2]), 0, 5, rng)[0]) for _ in range(3_000)]
    counts = np.bincount(starts, minlength=3)
    assert len(counts) == 3
    assert np.all(np.abs(counts / 3_000 - 1 / 3) < 0.04)


def test_trades_that_cannot_fit_are_an_error():
    with pytest.raises(ValueError, match="do not fit"):
        random_entry_bars(np.array([5, 5]), 0, 10, np.random.default_rng(0))
    # 5 + 4 = 9 steps fit exactly in 10 bars: one placement only.
    entry = random_entry_bars(np.array([5, 4]), 0, 10, np.random.default_rng(0))
    spans = sorted(zip(entry.tolist(), (entry + np.array([5, 4])).tolist(), strict=True))
    assert spans in ([(0, 5), (5, 9)], [(0, 4), (4, 9)])


def planted_edge_trades(
    close: np.ndarray, n: int, hold: int
) -> tuple[list[int], list[int], list[int], list[int]]:
    """Trades that peek ahead: long before the biggest rises, short before the biggest falls."""
    symbol: list[int] = []
    entry: list[int] = []
    exit_: list[int] = []
    side: list[int] = []
    for s in range(close.shape[0]):
        move = close[s, hold:] / close[s, :-hold] - 1.0
        taken = np.zeros(close.shape[1], dtype=bool)
        for bar in np.argsort(-np.abs(move)):
            if len(entry) >= n * (s + 1):
                break
            if taken[bar : bar + hold + 1].any():
                continue
            taken[bar : bar + hold + 1] = True
            symbol.append(s)
            entry.append(int(bar))
            exit_.append(int(bar) + hold)
            side.append(1 if move[bar] > 0 else -1)
    return symbol, entry, exit_, side


def test_a_planted_edge_has_a_small_p_value():
    close = random_walk(2, 1_000, seed=21)
    trades = planted_edge_trades(close, 20, hold=5)
    result = random_entry_test(close, *trades, n_strategies=500, seed=7)
    assert result.actual_return > 1.0
    assert result.p_value == pytest.approx(1 / 501)
    assert len(result.random_returns) == 500


def random_strategy(n_bars: int, seed: int) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    entry = np.concatenate([random_entry_bars(np.full(15, 8), 0, n_bars, rng) for _ in range(2)])
    return [0] * 15 + [1] * 15, entry, entry + 8, rng.choice([-1, 1], size=30)


def test_a_random_strategy_has_a_p_value_that_is_not_small():
    close = random_walk(2, 1_000, seed=22)
    result = random_entry_test(close, *random_strategy(1_000, 99), n_strategies=500, seed=8)
    assert result.p_value > 0.1


def test_p_values_of_random_strategies_spread_over_zero_to_one():
    # Under the null the p-value is about uniform: few are small, the mean is near 1/2.
    close = random_walk(2, 1_000, seed=23)
    p = [
        random_entry_test(close, *random_strategy(1_000, k), n_strategies=200, seed=k).p_value
        for k in range(20)
    ]
    assert sum(v < 0.05 for v in p) <= 3
    assert 0.3 < float(np.mean(p)) < 0.7


def test_random_strategies_keep_symbols_sides_and_holding_times_and_the_seed_reproduces_them():
    close = random_walk(2, 300, seed=5)
    close[1, :50] = np.nan  # the second instrument starts trading at bar 50
    trades = ([0, 0, 1, 1, 1], [10, 40, 60, 100, 200], [15, 41, 70, 100, 230], [1, -1, 1, 1, -1])
    a = random_entry_test(close, *trades, n_strategies=100, seed=3, first_bar=20)
    b = random_entry_test(close, *trades, n_strategies=100, seed=3, first_bar=20)
    c = random_entry_test(close, *trades, n_strategies=100, seed=4, first_bar=20)
    np.testing.assert_array_equal(a.random_returns, b.random_returns)
    assert not np.array_equal(a.random_returns, c.random_returns)
    assert a.actual_return == trade_set_return(close, *trades)
    assert np.all(np.isfinite(a.random_returns))  # no random trade touched a missing price


def test_a_histogram_spans_the_random_results_and_the_actual_one():
    h = histogram([0.0, 0.1, 0.1, 0.4], bins=4, include=1.0)
    np.testing.assert_allclose(h.edges, [0.0, 0.25, 0.5, 0.75, 1.0])
    assert h.counts.tolist() == [3, 1, 0, 0]
    flat = histogram([0.2, 0.2], bins=2)
    assert flat.counts.sum() == 2


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"side": [2]}, "side must be"),
        ({"exit_bar": [0]}, "exits before it enters"),
        ({"symbol": [0, 0]}, "same length"),
        ({"n_strategies": 0}, "n_strategies"),
        ({"close": [[100.0, math.nan, 101.0, 102.0]]}, "only before its first bar"),
        ({"close": [[100.0, -1.0, 101.0, 102.0]]}, "> 0"),
    ],
)
def test_bad_inputs_are_clear_errors(kwargs, says):
    args = {
        "close": [[100.0, 101.0, 102.0, 103.0]],
        "symbol": [0],
        "entry_bar": [1],
        "exit_bar": [2],
        "side": [1],
        "n_strategies": 5,
        "seed": 0,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=says):
        random_entry_test(**args)


def test_trade_records_of_a_result_become_the_test_arrays():
    records = [
        {"symbol": "MSFT", "entry_bar": 3, "exit_bar": 9, "direction": "short"},
        {"symbol": "AAPL", "entry_bar": 5, "exit_bar": 5, "direction": "long"},
    ]
    symbol, entry, exit_, side = trade_arrays(records, ("AAPL", "MSFT"))
    assert symbol.tolist() == [1, 0]
    assert entry.tolist() == [3, 5]
    assert exit_.tolist() == [9, 5]
    assert side.tolist() == [-1, 1]
    with pytest.raises(ValueError, match="'GOOG' is not among"):
        trade_arrays([{**records[0], "symbol": "GOOG"}], ("AAPL",))
