"""Monte Carlo resampling of a finished backtest: its trades and its bar returns.

Conventions (docs/metrics.md, "Research statistics"):

- Every function takes a ``seed`` and draws from ``numpy.random.default_rng(seed)`` in a fixed
  order, so the same inputs and seed give identical arrays.
- Paths are arrays of shape (n_runs, n_steps + 1); column 0 is ``initial_equity``. Memory is
  n_runs x (n_steps + 1) x 8 bytes per array: choose n_runs (and down-sample for display).
- Trade values are compounded (``kind="return"``: equity *= 1 + r, the trade's return on the
  whole account) or added (``kind="pnl"``: equity += pnl, cash from ``initial_equity``).
- Per path: ``final_return`` = last / first - 1, ``max_drawdown`` = min(equity / running peak
  - 1) (<= 0), ``sharpe`` = mean / std(ddof=1) of the path's steps (trade returns, trade
  P&Ls or bar returns), per step and NOT annualised; NaN for < 2 steps or zero spread.
- A shuffle keeps the multiset of trades, so final return (up to float rounding) and sharpe
  are the original ones in every run: only the path - the drawdown - changes. A bootstrap
  (with replacement) changes all three.
- Stationary block bootstrap (Politis & Romano 1994): blocks start at uniform random bars and
  have geometric lengths with mean ``mean_block_length`` (a new block starts at each step
  with probability 1 / L), wrapping around the end. L = 1 is the iid bootstrap; L -> inf
  keeps the original order, rotated to a random start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike

DEFAULT_PERCENTILES: Final = (5, 25, 50, 75, 95)
RESAMPLE_METHODS: Final = ("shuffle", "bootstrap")
TRADE_VALUE_KINDS: Final = ("return", "pnl")

__all__ = [
    "DEFAULT_PERCENTILES",
    "RESAMPLE_METHODS",
    "TRADE_VALUE_KINDS",
    "ResampledPaths",
    "block_bootstrap_returns",
    "percentile_bands",
    "resample_trades",
    "stationary_bootstrap_indices",
]


@dataclass(frozen=True, eq=False)
class ResampledPaths:
    """N resampled equity paths (n_runs, n_steps + 1) and each path's statistics (n_runs,)."""

    equity: np.ndarray
    final_return: np.ndarray
    max_drawdown: np.ndarray
    sharpe: np.ndarray


def _values(values: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or len(arr) == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array")
    if not bool(np.all(np.isfinite(arr))):
        raise ValueError(f"{name} must be finite")
    return arr


def _check_runs(n_runs: int) -> None:
    if n_runs < 1:
        raise ValueError(f"n_runs must be at least 1, got {n_runs}")


def _paths(steps: np.ndarray, kind: str, initial_equity: float) -> ResampledPaths:
    """Equity paths and their statistics from resampled steps (n_runs, n_steps)."""
    if kind == "return":
        growth = np.cumprod(1.0 + steps, axis=1)
        equity = initial_equity * np.concatenate((np.ones((len(steps), 1)), growth), axis=1)
    else:
        start = np.zeros((len(steps), 1))
        equity = initial_equity + np.concatenate((start, np.cumsum(steps, axis=1)), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        drawdown = equity / np.maximum.accumulate(equity, axis=1) - 1.0
        final = equity[:, -1] / equity[:, 0] - 1.0
    return ResampledPaths(equity, final, np.min(drawdown, axis=1), _row_sharpe(steps))


def _row_sharpe(steps: np.ndarray) -> np.ndarray:
    if steps.shape[1] < 2:
        return np.full(len(steps), math.nan)
    std = np.std(steps, axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(std > 0, np.mean(steps, axis=1) / std, math.nan)


def resample_trades(
    trade_values: ArrayLike,
    *,
    method: str,
    n_runs: int,
    seed: int,
    kind: str = "return",
    initial_equity: float = 1.0,
) -> ResampledPaths:
    """Resample the sequence of trades ``n_runs`` times: ``method="shuffle"`` permutes it,
    ``"bootstrap"`` draws as many trades with replacement. ``kind`` says whether the values
    are per-trade returns (compounded) or cash P&Ls (added to ``initial_equity``).

    Raises ValueError for an empty or non-finite input, n_runs < 1, an unknown method or
    kind, or initial_equity <= 0.
    """
    values = _values(trade_values, "trade_values")
    _check_runs(n_runs)
    if method not in RESAMPLE_METHODS:
        raise ValueError(f"method must be one of {RESAMPLE_METHODS}, got {method!r}")
    if kind not in TRADE_VALUE_KINDS:
        raise ValueError(f"kind must be one of {TRADE_VALUE_KINDS}, got {kind!r}")
    if not initial_equity > 0:
        raise ValueError(f"initial_equity must be > 0, got {initial_equity}")
    rng = np.random.default_rng(seed)
    if method == "shuffle":
        steps = rng.permuted(np.tile(values, (n_runs, 1)), axis=1)
    else:
        steps = values[rng.integers(0, len(values), size=(n_runs, len(values)))]
    return _paths(steps, kind, initial_equity)


def stationary_bootstrap_indices(
    n: int, mean_block_length: float, n_runs: int, rng: np.random.Generator
) -> np.ndarray:
    """(n_runs, n) indices into a series of length ``n``, resampled in blocks of geometric
    length with mean ``mean_block_length`` (>= 1; ``math.inf`` = one rotated block)."""
    if n < 1:
        raise ValueError(f"the series must have at least 1 value, got {n}")
    if not mean_block_length >= 1.0:  # also rejects NaN
        raise ValueError(f"mean_block_length must be >= 1, got {mean_block_length}")
    _check_runs(n_runs)
    starts = rng.integers(0, n, size=(n_runs, n))
    new_block = rng.random((n_runs, n)) < 1.0 / mean_block_length
    new_block[:, 0] = True
    position = np.arange(n)
    # Each step continues the block that began at the last True at or before it.
    block_start = np.maximum.accumulate(np.where(new_block, position, 0), axis=1)
    first = np.take_along_axis(starts, block_start, axis=1)
    return (first + (position - block_start)) % n


def block_bootstrap_returns(
    bar_returns: ArrayLike,
    *,
    mean_block_length: float,
    n_runs: int,
    seed: int,
    initial_equity: float = 1.0,
) -> ResampledPaths:
    """``n_runs`` equity paths compounded from the bar returns resampled by the stationary
    block bootstrap. Raises ValueError as ``stationary_bootstrap_indices`` and for an empty
    or non-finite input or initial_equity <= 0."""
    returns = _values(bar_returns, "bar_returns")
    if not initial_equity > 0:
        raise ValueError(f"initial_equity must be > 0, got {initial_equity}")
    rng = np.random.default_rng(seed)
    index = stationary_bootstrap_indices(len(returns), mean_block_length, n_runs, rng)
    return _paths(returns[index], "return", initial_equity)


def percentile_bands(
    paths: ArrayLike, percentiles: tuple[float, ...] = DEFAULT_PERCENTILES
) -> np.ndarray:
    """(len(percentiles), n_steps + 1): each percentile of the paths at every time step,
    linear interpolation between runs (NumPy's default)."""
    arr = np.asarray(paths, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ValueError("paths must be a 2-D array with at least one run")
    return np.percentile(arr, percentiles, axis=0)
