"""Bar input and the alignment of several instruments onto one clock."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from backtesting.engine.errors import EngineError

FIELDS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True, eq=False)
class BarSeries:
    """OHLCV bars of one instrument; timestamps are int64 ns since the epoch (UTC), increasing."""

    symbol: str
    timestamps: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.timestamps)
        ts = np.asarray(self.timestamps)
        if ts.ndim != 1 or (n and not np.issubdtype(ts.dtype, np.integer)):
            raise EngineError(f"{self.symbol}: timestamps must be a 1-d int64 array")
        if n > 1 and not bool(np.all(ts[1:] > ts[:-1])):
            raise EngineError(f"{self.symbol}: timestamps must be strictly increasing")
        for name in FIELDS:
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (n,):
                raise EngineError(f"{self.symbol}: {name} has {arr.shape}, expected ({n},)")
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "timestamps", ts.astype(np.int64, copy=False))
        self._check_prices()

    def _check_prices(self) -> None:
        o, h, low, c = self.open, self.high, self.low, self.close
        if not (np.all(np.isfinite(o)) and np.all(np.isfinite(c))):
            raise EngineError(f"{self.symbol}: prices must be finite")
        if not (
            np.all(low > 0) and np.all(h >= np.maximum(o, c)) and np.all(low <= np.minimum(o, c))
        ):
            raise EngineError(f"{self.symbol}: bars need 0 < low <= open, close <= high")

    def __len__(self) -> int:
        return len(self.timestamps)


@dataclass(frozen=True, eq=False)
class AlignedBars:
    """All instruments on the union of their timestamps, shape (n_symbols, n_bars).

    A bar missing for an instrument is forward-filled from its last close (open = high = low =
    close, volume 0) so indicators and marks stay defined, and ``has_bar`` is False there so no
    order of that instrument can fill on it. Before an instrument's first bar its prices are NaN.
    """

    symbols: tuple[str, ...]
    timestamps: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    has_bar: np.ndarray

    @property
    def n_bars(self) -> int:
        return len(self.timestamps)

    @property
    def complete(self) -> bool:
        """True when every instrument has a real bar at every timestamp."""
        return bool(self.has_bar.all())


def align_bars(bars: dict[str, BarSeries]) -> AlignedBars:
    """Put every instrument on the union clock; EngineError on empty or inconsistent input."""
    if not bars:
        raise EngineError("no bars given")
    for key, series in bars.items():
        if not isinstance(series, BarSeries) or series.symbol != key:
            raise EngineError(f"bars[{key!r}] must be a BarSeries with symbol {key!r}")
        if len(series) == 0:
            raise EngineError(f"{key}: no bars")
    symbols = tuple(bars)
    if len(symbols) == 1:
        return _single_memo(bars[symbols[0]])
    stamps = [bars[s].timestamps for s in symbols]
    same = all(len(t) == len(stamps[0]) and np.array_equal(t, stamps[0]) for t in stamps[1:])
    clock = stamps[0].copy() if same else np.unique(np.concatenate(stamps))
    shape = (len(symbols), len(clock))
    # On one shared clock every row is overwritten whole, so skip the NaN pre-fill.
    out = {name: np.empty(shape) if same else np.full(shape, np.nan) for name in FIELDS}
    has_bar = np.zeros(shape, dtype=bool)
    for row, sym in enumerate(symbols):
        _fill_row(bars[sym], clock, row, out, has_bar)
    for arr in (*out.values(), has_bar):
        arr.flags.writeable = False
    clock.flags.writeable = False
    return AlignedBars(symbols, clock, has_bar=has_bar, **out)


# One instrument's alignment by series object, dropped with the series. Its arrays are views
# of the series' own (so it always shows what a fresh one would) and the AlignedBars is
# frozen: a parameter sweep runs every combination over the same series and aligned it again
# for each.
_SINGLES: weakref.WeakKeyDictionary[BarSeries, AlignedBars] = weakref.WeakKeyDictionary()


def _single_memo(series: BarSeries) -> AlignedBars:
    aligned = _SINGLES.get(series)
    if aligned is None:
        aligned = _SINGLES[series] = _single(series)
    return aligned


def _single(series: BarSeries) -> AlignedBars:
    """One instrument is its own clock: read-only (1, n) views of its columns, no copies."""

    def frozen(arr: np.ndarray) -> np.ndarray:
        view = arr.view()
        view.flags.writeable = False
        return view

    columns = {name: frozen(getattr(series, name)[np.newaxis, :]) for name in FIELDS}
    has_bar = np.ones((1, len(series)), dtype=bool)
    has_bar.flags.writeable = False
    return AlignedBars((series.symbol,), frozen(series.timestamps), has_bar=has_bar, **columns)


def _fill_row(
    series: BarSeries,
    clock: np.ndarray,
    row: int,
    out: dict[str, np.ndarray],
    has_bar: np.ndarray,
) -> None:
    if len(series) == len(clock):  # trades on every tick: nothing to carry forward
        has_bar[row] = True
        for name in FIELDS:
            out[name][row] = getattr(series, name)
        return
    pos = np.searchsorted(clock, series.timestamps)
    has_bar[row, pos] = True
    # src = index into the series of the latest real bar at or before each tick (-1 before any).
    src = np.cumsum(has_bar[row]) - 1
    valid = src >= 0
    close = series.close[src[valid]]
    for name in FIELDS:
        values = getattr(series, name)[src[valid]]
        if name == "volume":
            values = np.where(has_bar[row, valid], values, 0.0)
        elif name != "close":
            values = np.where(has_bar[row, valid], values, close)
        out[name][row, valid] = values
