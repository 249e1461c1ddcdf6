"""Monte Carlo and random-entry results from arrays: the engine's research statistics, run in
batches (bounded memory, progress between batches) and shaped into the stored JSON.

No Django here: the inputs are arrays a selector loaded. Every batch draws from its own seed,
`SeedSequence([seed, batch])`, so a run is reproducible from its seed whatever the batching.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from backtesting.engine.research.chance import chance_p_value, histogram, random_entry_test
from backtesting.engine.research.montecarlo import (
    DEFAULT_PERCENTILES,
    ResampledPaths,
    block_bootstrap_returns,
    percentile_bands,
    resample_trades,
)

Progress = Callable[[float], None]  # fraction done; may raise to stop the run (cancel)

# One batch holds at most this many path values (8 MB of float64; the block bootstrap's index
# arrays take a few times that): 5,000 runs of 100,000 bars would be 4 GB at once.
BATCH_VALUES = 1_000_000
DISPLAY_POINTS = 250  # the equity chart's bands: enough for a page, small enough to store
HISTOGRAM_BINS = 30
CHANCE_BATCH = 250  # random strategies per batch (progress and cancel between batches)


def batch_seed(seed: int, batch: int) -> int:
    return int(np.random.SeedSequence([seed, batch]).generate_state(1)[0])


def display_index(n_points: int, limit: int = DISPLAY_POINTS) -> np.ndarray:
    """At most `limit` evenly spaced indices into `n_points`, first and last included."""
    return np.unique(np.linspace(0, n_points - 1, min(limit, n_points)).round().astype(np.int64))


def monte_carlo(
    values: np.ndarray,
    *,
    method: str,
    n_runs: int,
    seed: int,
    initial_equity: float,
    mean_block_length: float = 1.0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Resample `values` n_runs times: trade P&Ls for "shuffle"/"bootstrap", bar returns for
    "block_bootstrap". Returns the distributions (percentiles, histograms, probability of
    loss), the actual path's statistics, and percentile bands at `display_index` points.

    Raises ValueError as the engine's research functions do (empty or non-finite values...).
    """
    index = display_index(len(values) + 1)
    stats, shown = _resample_in_batches(
        values, method, n_runs, seed, initial_equity, mean_block_length, index, progress
    )
    kind = "return" if method == "block_bootstrap" else "pnl"
    actual = _actual(values, kind, initial_equity)
    distributions = {name: _distribution(runs, actual[name]) for name, runs in stats.items()}
    finals = stats["final_return"]
    bands = percentile_bands(shown)
    return {
        "n_runs": n_runs,
        "n_steps": len(values),
        "probability_of_loss": float(np.mean(finals < 0)),
        "actual": {k: _num(v) for k, v in actual.items() if k != "equity"},
        "distributions": distributions,
        "bands": {
            "index": index.tolist(),
            "percentiles": list(DEFAULT_PERCENTILES),
            "values": [[_num(v) for v in row] for row in bands],
            "actual": [_num(v) for v in actual["equity"][index]],
        },
    }


def _resample_in_batches(
    values: np.ndarray,
    method: str,
    n_runs: int,
    seed: int,
    initial: float,
    block: float,
    index: np.ndarray,
    progress: Progress | None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each run's statistics and its path at the display points; a batch's full paths are
    dropped before the next batch is drawn."""
    per_batch = max(1, BATCH_VALUES // (len(values) + 1))
    stats: dict[str, list[np.ndarray]] = {"final_return": [], "max_drawdown": [], "sharpe": []}
    shown: list[np.ndarray] = []
    for batch, start in enumerate(range(0, n_runs, per_batch)):
        size = min(per_batch, n_runs - start)
        paths = _resample(values, method, size, batch_seed(seed, batch), initial, block)
        for name, collected in stats.items():
            collected.append(getattr(paths, name))
        shown.append(paths.equity[:, index])
        if progress:
            progress((start + size) / n_runs)
    return {k: np.concatenate(v) for k, v in stats.items()}, np.concatenate(shown)


def _resample(
    values: np.ndarray, method: str, n_runs: int, seed: int, initial: float, block: float
) -> ResampledPaths:
    if method == "block_bootstrap":
        return block_bootstrap_returns(
            values, mean_block_length=block, n_runs=n_runs, seed=seed, initial_equity=initial
        )
    return resample_trades(
        values, method=method, n_runs=n_runs, seed=seed, kind="pnl", initial_equity=initial
    )


def _actual(values: np.ndarray, kind: str, initial: float) -> dict[str, Any]:
    """The statistics of the path as it happened, by the engine's definitions (docs/metrics.md)."""
    if kind == "return":
        equity = initial * np.concatenate(([1.0], np.cumprod(1.0 + values)))
    else:
        equity = initial + np.concatenate(([0.0], np.cumsum(values)))
    with np.errstate(divide="ignore", invalid="ignore"):
        drawdown = float(np.min(equity / np.maximum.accumulate(equity) - 1.0))
        std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        sharpe = float(np.mean(values)) / std if std > 0 else math.nan
    return {
        "equity": equity,
        "final_return": float(equity[-1] / equity[0] - 1.0),
        "max_drawdown": drawdown,
        "sharpe": sharpe,
    }


def _distribution(values: np.ndarray, actual: float) -> dict[str, Any]:
    finite = values[np.isfinite(values)]
    percentiles = np.percentile(finite, DEFAULT_PERCENTILES) if len(finite) else [math.nan] * 5
    return {
        "percentiles": {
            f"p{p}": _num(v) for p, v in zip(DEFAULT_PERCENTILES, percentiles, strict=True)
        },
        "mean": _num(float(np.mean(finite))) if len(finite) else None,
        "undefined": int(len(values) - len(finite)),
        "histogram": _histogram(finite, actual),
    }


def _histogram(values: np.ndarray, include: float | None) -> dict[str, list[Any]]:
    # A shuffle's final returns differ only by float rounding: rounded, they fall in one bin
    # instead of 30 bins narrower than NumPy can draw.
    values = np.round(values, 10)
    include = None if include is None or not math.isfinite(include) else round(include, 10)
    h = histogram(values, bins=HISTOGRAM_BINS, include=include)
    return {"edges": [_num(e) for e in h.edges], "counts": [int(c) for c in h.counts]}


def random_entry(
    close: np.ndarray,
    trades: Sequence[np.ndarray],
    *,
    n_strategies: int,
    seed: int,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The strategy's trades against `n_strategies` random-entry strategies (research.chance).

    `trades` is (symbol, entry_bar, exit_bar, side). Raises ValueError as random_entry_test.
    """
    scores: list[np.ndarray] = []
    actual = math.nan
    for batch, start in enumerate(range(0, n_strategies, CHANCE_BATCH)):
        size = min(CHANCE_BATCH, n_strategies - start)
        test = random_entry_test(close, *trades, n_strategies=size, seed=batch_seed(seed, batch))
        actual = test.actual_return
        scores.append(test.random_returns)
        if progress:
            progress((start + size) / n_strategies)
    random_returns = np.concatenate(scores)
    return {
        "n_strategies": n_strategies,
        "n_trades": len(trades[0]),
        "actual_return": _num(actual),
        "p_value": _num(chance_p_value(actual, random_returns)),
        "random_percentiles": {
            f"p{p}": _num(v)
            for p, v in zip(
                DEFAULT_PERCENTILES, np.percentile(random_returns, DEFAULT_PERCENTILES), strict=True
            )
        },
        "beaten_share": float(np.mean(random_returns < actual)),
        "histogram": _histogram(random_returns, actual),
    }


def _num(value: Any) -> float | None:
    """A JSON number, or None for NaN and infinities (JSON has neither)."""
    number = float(value)
    return number if math.isfinite(number) else None
