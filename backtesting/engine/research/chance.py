"""Significance against chance: the strategy against M random-entry strategies.

Conventions (docs/metrics.md, "Research statistics"):

- Trades are given as aligned arrays: ``symbol`` (row of ``close``), ``entry_bar``,
  ``exit_bar`` (bar indices, exit >= entry) and ``side`` (+1 long, -1 short).
- A trade's return is ``side * (close[exit] / close[entry] - 1) - cost_per_trade``; a set of
  trades scores ``prod(1 + r) - 1`` (each trade on the whole account, compounded). The
  strategy is scored by the same function on its own trades, so both sides of the test see
  the same prices, the same cost and the same sizing; the backtest's own total return (with
  its sizing and fills) is not what is compared.
- A random strategy keeps every trade's symbol, side and holding time (bars) - so the trade
  count, the long/short mix and the holding-time distribution are exactly the strategy's - and
  draws new entry bars: per symbol, uniformly among all placements where every trade fits
  inside that symbol's priced bars (from ``first_bar`` on) and no two trades overlap (a trade
  may enter on the bar the previous one exits, as the engine allows).
- p-value = (1 + #{random >= actual}) / (M + 1): never 0, and 1/(M + 1) at best.
- Seeded: ``numpy.random.default_rng(seed)``, symbols in index order, strategies one by one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "ChanceTest",
    "Histogram",
    "chance_p_value",
    "histogram",
    "random_entry_bars",
    "random_entry_test",
    "trade_arrays",
    "trade_set_return",
]


@dataclass(frozen=True, eq=False)
class ChanceTest:
    """The strategy's score, the M random strategies' scores, and the p-value."""

    actual_return: float
    random_returns: np.ndarray
    p_value: float


@dataclass(frozen=True, eq=False)
class Histogram:
    """``counts[i]`` values fall in [edges[i], edges[i + 1]) (the last bin is closed)."""

    edges: np.ndarray
    counts: np.ndarray


@dataclass(frozen=True, eq=False)
class _Trades:
    symbol: np.ndarray
    entry: np.ndarray
    exit: np.ndarray
    side: np.ndarray


def _prices(close: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(close as (n_symbols, n_bars), first priced bar of each symbol); NaN only before it."""
    arr = np.asarray(close, dtype=np.float64)
    arr = arr[None, :] if arr.ndim == 1 else arr
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError("close must be (n_bars,) or (n_symbols, n_bars) with at least 2 bars")
    priced = np.isfinite(arr)
    first = np.argmax(priced, axis=1)
    after_first = np.arange(arr.shape[1]) >= first[:, None]
    if bool(np.any(after_first & ~priced)) or bool(np.any(arr[after_first] <= 0)):
        raise ValueError("close must be > 0 and may be missing (NaN) only before its first bar")
    return arr, first


def _trades(symbol: ArrayLike, entry: ArrayLike, exit_: ArrayLike, side: ArrayLike) -> _Trades:
    t = _Trades(*(np.asarray(a, dtype=np.int64) for a in (symbol, entry, exit_, side)))
    if len({len(t.symbol), len(t.entry), len(t.exit), len(t.side)}) != 1:
        raise ValueError("symbol, entry_bar, exit_bar and side must have the same length")
    if len(t.symbol) == 0:
        raise ValueError("there are no trades to compare")
    if bool(np.any(t.exit < t.entry)):
        raise ValueError("a trade exits before it enters")
    if not bool(np.all(np.isin(t.side, (-1, 1)))):
        raise ValueError("side must be +1 (long) or -1 (short)")
    return t


def trade_arrays(
    records: Iterable[Mapping[str, Any]], symbols: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(symbol, entry_bar, exit_bar, side) from a BacktestResult's trade records; ``symbols``
    are the result's symbols in row order of the close array (bars index the aligned bars,
    warm-up included). Raises ValueError for a symbol not in ``symbols``."""
    row = {name: i for i, name in enumerate(symbols)}
    out: tuple[list[int], list[int], list[int], list[int]] = ([], [], [], [])
    for t in records:
        if t["symbol"] not in row:
            raise ValueError(f"trade symbol {t['symbol']!r} is not among {list(symbols)}")
        out[0].append(row[t["symbol"]])
        out[1].append(int(t["entry_bar"]))
        out[2].append(int(t["exit_bar"]))
        out[3].append(1 if t["direction"] == "long" else -1)
    symbol, entry, exit_, side = (np.array(a, dtype=np.int64) for a in out)
    return symbol, entry, exit_, side


def trade_set_return(
    close: ArrayLike,
    symbol: ArrayLike,
    entry_bar: ArrayLike,
    exit_bar: ArrayLike,
    side: ArrayLike,
    cost_per_trade: float = 0.0,
) -> float:
    """prod(1 + side * (close[exit] / close[entry] - 1) - cost_per_trade) - 1 over the trades."""
    prices, _ = _prices(close)
    t = _trades(symbol, entry_bar, exit_bar, side)
    return _score(prices, t, cost_per_trade)


def _score(prices: np.ndarray, t: _Trades, cost: float) -> float:
    # Out-of-range bars raise IndexError here: a trade outside the prices is our caller's bug.
    moved = prices[t.symbol, t.exit] / prices[t.symbol, t.entry] - 1.0
    return float(np.prod(1.0 + t.side * moved - cost)) - 1.0


def random_entry_bars(
    holding: np.ndarray, first_bar: int, n_bars: int, rng: np.random.Generator
) -> np.ndarray:
    """Random entry bars for trades held ``holding[i]`` bars within bars [first_bar, n_bars),
    aligned with ``holding``: uniform over all non-overlapping placements (trades in a
    random order, gaps drawn as a uniform combination - "stars and bars")."""
    k, steps = len(holding), n_bars - 1 - first_bar
    total = int(np.sum(holding))
    if total > steps:
        raise ValueError(
            f"{k} trades holding {total} bars in all do not fit in the {steps + 1} priced bars"
        )
    order = rng.permutation(k)
    held = holding[order]
    # k sorted distinct slots among steps - total + k; slot c_i puts trade i after i earlier
    # trades and c_i - i free bars, which maps combinations one to one onto placements.
    slots = np.sort(rng.choice(steps - total + k, size=k, replace=False))
    before = np.concatenate(([0], np.cumsum(held)[:-1]))
    entries = np.empty(k, dtype=np.int64)
    entries[order] = first_bar + slots - np.arange(k) + before
    return entries


def _random_trades(t: _Trades, first: np.ndarray, n_bars: int, rng: np.random.Generator) -> _Trades:
    holding = t.exit - t.entry
    entry = np.empty_like(t.entry)
    for s in np.unique(t.symbol):
        mine = np.flatnonzero(t.symbol == s)
        entry[mine] = random_entry_bars(holding[mine], int(first[s]), n_bars, rng)
    return _Trades(t.symbol, entry, entry + holding, t.side)


def chance_p_value(actual: float, random_values: ArrayLike) -> float:
    """(1 + #{random >= actual}) / (M + 1); NaN values among the random ones count as below."""
    values = np.asarray(random_values, dtype=np.float64)
    if not math.isfinite(actual):
        return math.nan
    return (1 + int(np.count_nonzero(values >= actual))) / (len(values) + 1)


def random_entry_test(
    close: ArrayLike,
    symbol: ArrayLike,
    entry_bar: ArrayLike,
    exit_bar: ArrayLike,
    side: ArrayLike,
    *,
    n_strategies: int,
    seed: int,
    first_bar: int = 0,
    cost_per_trade: float = 0.0,
) -> ChanceTest:
    """Score the strategy's trades and ``n_strategies`` random-entry strategies built from them
    (see the module docstring). ``first_bar``: no random entry before it (the warm-up).
    Raises ValueError for malformed prices or trades, n_strategies < 1, or trades that cannot
    fit in a symbol's priced bars."""
    if n_strategies < 1:
        raise ValueError(f"n_strategies must be at least 1, got {n_strategies}")
    prices, first = _prices(close)
    trades = _trades(symbol, entry_bar, exit_bar, side)
    first = np.maximum(first, first_bar)
    actual = _score(prices, trades, cost_per_trade)
    rng = np.random.default_rng(seed)
    n_bars = prices.shape[1]
    scores = np.array(
        [
            _score(prices, _random_trades(trades, first, n_bars, rng), cost_per_trade)
            for _ in range(n_strategies)
        ]
    )
    return ChanceTest(actual, scores, chance_p_value(actual, scores))


def histogram(values: ArrayLike, bins: int = 30, include: float | None = None) -> Histogram:
    """``bins`` equal-width bins over the finite values, widened to ``include`` (the actual
    result, so the chart can mark it inside the range)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    lo = float(v.min()) if len(v) else 0.0
    hi = float(v.max()) if len(v) else 0.0
    if include is not None and math.isfinite(include):
        lo, hi = min(lo, include), max(hi, include)
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi) if hi > lo else (lo - 0.5, lo + 0.5))
    return Histogram(edges, counts)
