"""Monte Carlo: reproducible from the seed, shuffles keep the final return and move the
drawdown, bootstraps draw from the trades, and the stationary block bootstrap goes from iid
(L = 1) to the original order (L -> inf). Statistical checks use fixed seeds and loose bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backtesting.engine.research.montecarlo import (
    block_bootstrap_returns,
    percentile_bands,
    resample_trades,
    stationary_bootstrap_indices,
)

TRADES = np.array([0.10, -0.05, 0.20, -0.10, 0.03, -0.02, 0.07, -0.15, 0.04, 0.01])


def ar1(n: int, phi: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, 0.01, n)
    out = np.empty(n)
    out[0] = noise[0]
    for t in range(1, n):
        out[t] = phi * out[t - 1] + noise[t]
    return out


def lag1_autocorrelation(x: np.ndarray) -> float:
    return float(np.corrcoef(x[:-1], x[1:])[0, 1])


@pytest.mark.parametrize("method", ["shuffle", "bootstrap"])
def test_the_same_seed_gives_identical_arrays_and_another_seed_different_ones(method):
    a = resample_trades(TRADES, method=method, n_runs=50, seed=42)
    b = resample_trades(TRADES, method=method, n_runs=50, seed=42)
    c = resample_trades(TRADES, method=method, n_runs=50, seed=43)
    for field in ("equity", "final_return", "max_drawdown", "sharpe"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.equity, c.equity)


def test_a_shuffle_keeps_every_trade_and_the_final_return_but_moves_the_drawdown():
    runs = resample_trades(TRADES, method="shuffle", n_runs=200, seed=1, initial_equity=100.0)
    steps = runs.equity[:, 1:] / runs.equity[:, :-1] - 1.0
    np.testing.assert_allclose(np.sort(steps, axis=1), np.tile(np.sort(TRADES), (200, 1)))
    product = float(np.prod(1.0 + TRADES)) - 1.0
    np.testing.assert_allclose(runs.final_return, product, rtol=1e-12)
    np.testing.assert_allclose(runs.equity[:, 0], 100.0)
    # Same multiset, same mean and spread: the per-trade Sharpe cannot change either.
    np.testing.assert_allclose(runs.sharpe, TRADES.mean() / TRADES.std(ddof=1), rtol=1e-12)
    assert np.ptp(runs.max_drawdown) > 0.05
    original_path = np.concatenate(([1.0], np.cumprod(1.0 + TRADES)))
    original_dd = float(np.min(original_path / np.maximum.accumulate(original_path) - 1))
    assert np.any(runs.max_drawdown != pytest.approx(original_dd))


def test_a_shuffle_of_cash_pnl_adds_up_to_the_same_cash():
    pnl = np.array([120.0, -80.0, 40.0, -30.0])
    runs = resample_trades(
        pnl, method="shuffle", n_runs=20, seed=3, kind="pnl", initial_equity=1000.0
    )
    np.testing.assert_allclose(runs.equity[:, -1], 1050.0)
    np.testing.assert_allclose(runs.final_return, 0.05)


def test_a_bootstrap_draws_only_the_strategys_trades_and_varies_the_final_return():
    runs = resample_trades(TRADES, method="bootstrap", n_runs=300, seed=5)
    steps = runs.equity[:, 1:] / runs.equity[:, :-1] - 1.0
    assert np.all(np.min(np.abs(steps[..., None] - TRADES), axis=-1) < 1e-12)
    assert np.ptp(runs.final_return) > 0.2
    assert np.ptp(runs.sharpe) > 0.2
    # The median of the bootstrap's mean trade is close to the actual mean trade.
    assert np.median(steps.mean(axis=1)) == pytest.approx(TRADES.mean(), abs=0.01)


def test_percentile_bands_by_hand():
    paths = np.array([[1.0, 1.0], [1.0, 2.0], [1.0, 3.0], [1.0, 4.0], [1.0, 5.0]])
    bands = percentile_bands(paths)
    # Linear interpolation over 5 runs: rank = p/100 * 4 -> 0.2, 1, 2, 3, 3.8.
    np.testing.assert_allclose(bands[:, 1], [1.2, 2.0, 3.0, 4.0, 4.8])
    np.testing.assert_allclose(bands[:, 0], 1.0)
    assert bands.shape == (5, 2)


def test_block_bootstrap_is_reproducible_from_the_seed():
    returns = ar1(500, 0.5, seed=0)
    a = block_bootstrap_returns(returns, mean_block_length=10, n_runs=20, seed=9)
    b = block_bootstrap_returns(returns, mean_block_length=10, n_runs=20, seed=9)
    c = block_bootstrap_returns(returns, mean_block_length=10, n_runs=20, seed=10)
    np.testing.assert_array_equal(a.equity, b.equity)
    assert not np.array_equal(a.equity, c.equity)
    assert a.equity.shape == (20, 501)
    # The paths are the returns at the indices the same seed draws, compounded.
    index = stationary_bootstrap_indices(500, 10, 20, np.random.default_rng(9))
    np.testing.assert_allclose(a.final_return, np.prod(1.0 + returns[index], axis=1) - 1.0)
    np.testing.assert_allclose(a.equity[:, 0], 1.0)


def test_an_infinite_block_is_the_original_order_rotated():
    rng = np.random.default_rng(4)
    index = stationary_bootstrap_indices(50, math.inf, 8, rng)
    for row in index:
        np.testing.assert_array_equal(row, (row[0] + np.arange(50)) % 50)
    # A long block keeps the original order almost everywhere, and its autocorrelation.
    returns = ar1(2_000, 0.8, seed=1)
    index = stationary_bootstrap_indices(2_000, 1e6, 5, np.random.default_rng(2))
    assert np.mean(index[:, 1:] == (index[:, :-1] + 1) % 2_000) > 0.999
    for row in index:
        assert lag1_autocorrelation(returns[row]) == pytest.approx(0.8, abs=0.08)


def test_a_block_length_of_one_is_the_iid_bootstrap():
    returns = ar1(2_000, 0.8, seed=1)
    index = stationary_bootstrap_indices(2_000, 1.0, 5, np.random.default_rng(3))
    # Continuing a block happens only by chance (1 in n).
    assert np.mean(index[:, 1:] == (index[:, :-1] + 1) % 2_000) < 0.01
    for row in index:
        assert abs(lag1_autocorrelation(returns[row])) < 0.1
    assert np.mean(returns[index]) == pytest.approx(np.mean(returns), abs=0.005)


def test_blocks_have_the_asked_mean_length():
    index = stationary_bootstrap_indices(10_000, 20.0, 4, np.random.default_rng(11))
    breaks = np.count_nonzero(index[:, 1:] != (index[:, :-1] + 1) % 10_000) + 4
    assert 10_000 * 4 / breaks == pytest.approx(20.0, rel=0.15)


@pytest.mark.parametrize(
    ("call", "says"),
    [
        (lambda: resample_trades([], method="shuffle", n_runs=1, seed=0), "non-empty"),
        (lambda: resample_trades([0.1, math.nan], method="shuffle", n_runs=1, seed=0), "finite"),
        (lambda: resample_trades([0.1], method="swap", n_runs=1, seed=0), "method"),
        (lambda: resample_trades([0.1], method="shuffle", n_runs=0, seed=0), "n_runs"),
        (lambda: resample_trades([0.1], method="shuffle", n_runs=1, seed=0, kind="x"), "kind"),
        (
            lambda: resample_trades([1.0], method="shuffle", n_runs=1, seed=0, initial_equity=0),
            "initial_equity",
        ),
        (lambda: block_bootstrap_returns([0.1], mean_block_length=0.5, n_runs=1, seed=0), ">= 1"),
        (
            lambda: block_bootstrap_returns([0.1], mean_block_length=math.nan, n_runs=1, seed=0),
            ">= 1",
        ),
        (lambda: percentile_bands(np.ones(3)), "2-D"),
    ],
)
def test_bad_inputs_are_clear_errors(call, says):
    with pytest.raises(ValueError, match=says):
        call()


def test_a_single_trade_has_no_sharpe():
    runs = resample_trades([0.1], method="bootstrap", n_runs=3, seed=0)
    assert np.all(np.isnan(runs.sharpe))
    np.testing.assert_allclose(runs.final_return, 0.1)
