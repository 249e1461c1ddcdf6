"""Technical indicators as pure, causal NumPy functions.

Every function takes float64 arrays and returns float64 arrays of the same length (tuples for
multi-output indicators, bool arrays for ``crossover``/``crossunder``). Conventions shared by all:

- Causal: the value at index ``i`` depends only on inputs at indices ``<= i``.
- Warm-up: indices without enough history are NaN. Leading NaNs in the input (for example the
  warm-up of another indicator) are skipped, so indicators can be chained.
- Windowed indicators (SMA, Bollinger, Donchian...) give NaN for any window containing a NaN.
  Recursive indicators (EMA, RSI, ATR, ADX) raise ``ValueError`` on a NaN after their first
  finite input, because a recursion cannot recover from a gap.
- Invalid arguments (period < 1, mismatched lengths, non-1-D input) raise ``ValueError``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import overload

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from backtesting.engine import kernel
from backtesting.engine.resample import Resampled, resample_bars
from backtesting.engine.views import NO_PARTNER, SeriesView

FloatArray = np.ndarray
ArrayLike = np.ndarray | Sequence[float]

# Rows processed at once by window reductions: bounds memory to ~_CHUNK * period floats.
_CHUNK = 65_536
# EMA blocks are solved in closed form; d**-k must stay far from overflow within a block.
_EMA_MAX_GROWTH_LOG10 = 100.0

__all__ = [
    "Resampled",
    "adx",
    "align_to_base",
    "atr",
    "bollinger",
    "crossover",
    "crossunder",
    "directional_indicators",
    "donchian",
    "ema",
    "macd",
    "resample_ohlc",
    "rma",
    "rolling_max",
    "rolling_min",
    "rolling_std",
    "rsi",
    "sma",
    "stochastic",
    "true_range",
    "vwap",
    "wma",
    "zscore",
]


# --------------------------------------------------------------------------- validation


def _as_array(x: ArrayLike, name: str = "x") -> FloatArray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got {arr.ndim} dimensions")
    return arr


def _check_period(period: int, name: str = "period") -> int:
    # bool is an int subclass; sma(x, True) is almost certainly a bug.
    if isinstance(period, bool) or not isinstance(period, int | np.integer):
        raise ValueError(f"{name} must be an integer >= 1, got {period!r}")
    if period < 1:
        raise ValueError(f"{name} must be >= 1, got {period}")
    return int(period)


def _check_lengths(**arrays: FloatArray) -> None:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise ValueError(f"input arrays must have the same length ({detail})")


def _first_finite(x: FloatArray) -> int:
    """Index of the first finite value, or len(x) if there is none."""
    finite = np.flatnonzero(np.isfinite(x))
    return int(finite[0]) if finite.size else len(x)


def _check_no_gap(x: FloatArray, start: int, name: str) -> None:
    bad = np.flatnonzero(~np.isfinite(x[start:]))
    if bad.size:
        raise ValueError(
            f"{name} has a non-finite value at index {start + int(bad[0])} after its warm-up; "
            "recursive indicators need gap-free input"
        )


# --------------------------------------------------------------------------- moving averages


def _rolling_sum(x: FloatArray, period: int) -> FloatArray:
    """Windowed sum via cumsum; NaN for windows that contain a NaN or are incomplete."""
    out = np.full(len(x), np.nan)
    if period > len(x):
        return out
    nan = ~np.isfinite(x)
    gaps = bool(nan.any())
    start = _first_finite(x) if gaps else 0
    # Centre on the first finite value so the running sum stays small: a cumsum of raw prices
    # loses digits as it grows. np.cumsum is sequential, so a prefix never sees later data.
    shift = x[start] if start < len(x) else 0.0
    c = np.empty(len(x) + 1)
    c[0] = 0.0
    np.cumsum(np.where(nan, 0.0, x - shift) if gaps else x - shift, out=c[1:])
    window = c[period:] - c[:-period] + period * shift
    if not gaps:  # the common case: no window holds a NaN, the same sums without the masks
        out[period - 1 :] = window
        return out
    bad = np.concatenate(([0], np.cumsum(nan)))
    out[period - 1 :] = np.where(bad[period:] - bad[:-period] > 0, np.nan, window)
    return out


def sma(x: ArrayLike, period: int) -> FloatArray:
    """Simple moving average: mean of the last ``period`` values (NaN until ``period`` values)."""
    arr, period = _as_array(x), _check_period(period)
    if kernel.KERNEL is not None and period <= len(arr) and arr.flags.c_contiguous:
        # The same operations in one pass (kernel.c, tp_sma): ~3x faster on daily bars, and a
        # sweep computes a few of these per combination. None when x has a gap.
        out = kernel.KERNEL.sma(arr, period)
        if out is not None:
            return out
    return _rolling_sum(arr, period) / period


def wma(x: ArrayLike, period: int) -> FloatArray:
    """Linearly weighted moving average: weights 1..period, the newest value weighs ``period``."""
    arr, period = _as_array(x), _check_period(period)
    out = np.full(len(arr), np.nan)
    if period > len(arr):
        return out
    weights = np.arange(1, period + 1, dtype=np.float64)
    # 'valid' convolution with reversed weights = weighted sum of each trailing window.
    window = np.convolve(arr, weights[::-1], mode="valid")
    out[period - 1 :] = window / weights.sum()
    return out


def _ema_recursive(x: FloatArray, alpha: float, seed: float) -> FloatArray:
    """y[k] = alpha*x[k] + d*y[k-1] with y[-1] = seed, d = 1 - alpha, without a per-element loop.

    Inside a block y[k] = d^(k+1)*seed + alpha * d^k * cumsum(x[j] * d^-j); blocks are short
    enough that d^-j cannot overflow, and the carry passes between blocks in a short loop.
    """
    d = 1.0 - alpha
    out = np.empty(len(x))
    if d == 0.0:
        out[:] = x
        return out
    block = max(1, min(len(x), int(_EMA_MAX_GROWTH_LOG10 / -np.log10(d))))
    powers = d ** np.arange(block + 1)
    inv = 1.0 / powers[:block]
    carry = seed
    for lo in range(0, len(x), block):
        seg = x[lo : lo + block]
        m = len(seg)
        y = alpha * powers[:m] * np.cumsum(seg * inv[:m]) + powers[1 : m + 1] * carry
        out[lo : lo + m] = y
        carry = y[-1]
    return out


def _seeded_ema(x: FloatArray, period: int, alpha: float, name: str) -> FloatArray:
    """EMA seeded with the SMA of the first ``period`` finite values (TA-Lib convention)."""
    out = np.full(len(x), np.nan)
    start = _first_finite(x)
    _check_no_gap(x, start, name)
    first = start + period - 1
    if first >= len(x):
        return out
    seed = float(np.mean(x[start : first + 1]))
    out[first] = seed
    out[first + 1 :] = _ema_recursive(x[first + 1 :], alpha, seed)
    return out


def ema(x: ArrayLike, period: int) -> FloatArray:
    """Exponential moving average, alpha = 2/(period+1), seeded with the SMA of the first
    ``period`` values; first value at index ``period - 1`` (after any leading NaNs)."""
    arr, period = _as_array(x), _check_period(period)
    return _seeded_ema(arr, period, 2.0 / (period + 1.0), "x")


def rma(x: ArrayLike, period: int) -> FloatArray:
    """Wilder's moving average (alpha = 1/period), seeded like ``ema``; used by RSI/ATR/ADX."""
    arr, period = _as_array(x), _check_period(period)
    return _seeded_ema(arr, period, 1.0 / period, "x")


# --------------------------------------------------------------------------- window reductions


def _window_reduce(x: FloatArray, period: int, reducer: str, ddof: int = 0) -> FloatArray:
    """max/min/std over trailing windows, chunked to bound memory (O(n*period) but vectorized).

    std is computed two-pass per window: a cumsum-of-squares formula cancels catastrophically
    when prices drift far from where the sum started.
    """
    out = np.full(len(x), np.nan)
    if period > len(x):
        return out
    windows = sliding_window_view(x, period)
    for lo in range(0, len(windows), _CHUNK):
        w = windows[lo : lo + _CHUNK]
        if reducer == "max":
            r = w.max(axis=1)
        elif reducer == "min":
            r = w.min(axis=1)
        else:
            r = w.std(axis=1, ddof=ddof) if period > ddof else np.full(len(w), np.nan)
        out[period - 1 + lo : period - 1 + lo + len(w)] = r
    return out


def rolling_max(x: ArrayLike, period: int) -> FloatArray:
    """Highest value of the last ``period`` values, current bar included."""
    return _window_reduce(_as_array(x), _check_period(period), "max")


def rolling_min(x: ArrayLike, period: int) -> FloatArray:
    """Lowest value of the last ``period`` values, current bar included."""
    return _window_reduce(_as_array(x), _check_period(period), "min")


def rolling_std(x: ArrayLike, period: int, ddof: int = 0) -> FloatArray:
    """Standard deviation of the last ``period`` values (population by default, ddof=0)."""
    if ddof not in (0, 1):
        raise ValueError(f"ddof must be 0 or 1, got {ddof!r}")
    return _window_reduce(_as_array(x), _check_period(period), "std", ddof)


def bollinger(
    x: ArrayLike, period: int = 20, k: float = 2.0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Bollinger Bands -> (upper, middle, lower): SMA(period) +/- k * population std (ddof=0)."""
    arr, period = _as_array(x), _check_period(period)
    if not np.isfinite(k) or k < 0:
        raise ValueError(f"k must be a finite number >= 0, got {k!r}")
    middle = sma(arr, period)
    width = k * rolling_std(arr, period)
    return middle + width, middle, middle - width


def zscore(x: ArrayLike, period: int, ddof: int = 0) -> FloatArray:
    """Rolling z-score: (x - SMA(period)) / rolling std; 0 where the window is constant."""
    arr, period = _as_array(x), _check_period(period)
    dev = arr - sma(arr, period)
    std = rolling_std(arr, period, ddof)
    # A constant window has x == mean, so "zero standard deviations away" is the honest answer.
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(std == 0.0, 0.0, dev / std)


# --------------------------------------------------------------------------- oscillators


def rsi(close: ArrayLike, period: int = 14) -> FloatArray:
    """Wilder's RSI: 100 - 100/(1 + RMA(gains)/RMA(losses)); first value at index ``period``.

    Both averages are seeded with the mean of the first ``period`` changes. RSI is 100 when
    there are no losses and 50 when price did not move at all.
    """
    arr, period = _as_array(close, "close"), _check_period(period)
    change = np.full(len(arr), np.nan)
    change[1:] = np.diff(arr)
    avg_gain = rma(np.where(np.isnan(change), np.nan, np.maximum(change, 0.0)), period)
    avg_loss = rma(np.where(np.isnan(change), np.nan, np.maximum(-change, 0.0)), period)
    total = avg_gain + avg_loss
    with np.errstate(divide="ignore", invalid="ignore"):
        # 100*g/(g+l) is algebraically 100 - 100/(1+g/l) and needs no special case for l == 0.
        out = np.where(total == 0.0, 50.0, 100.0 * avg_gain / total)
    return np.where(np.isnan(total), np.nan, out)


def macd(
    close: ArrayLike, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """MACD -> (macd, signal, hist): EMA(fast) - EMA(slow), EMA(signal) of that, and their gap.

    Each EMA is seeded with its own SMA, so macd starts at ``slow - 1`` and signal at
    ``slow + signal - 2``.
    """
    arr = _as_array(close, "close")
    fast, slow = _check_period(fast, "fast"), _check_period(slow, "slow")
    signal = _check_period(signal, "signal")
    if fast >= slow:
        raise ValueError(f"fast ({fast}) must be smaller than slow ({slow})")
    line = ema(arr, fast) - ema(arr, slow)
    sig = ema(line, signal)
    return line, sig, line - sig


def stochastic(
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    k_period: int = 14,
    d_period: int = 3,
    smooth_k: int = 1,
) -> tuple[FloatArray, FloatArray]:
    """Stochastic oscillator -> (%K, %D).

    raw %K = 100 * (close - lowest low) / (highest high - lowest low) over ``k_period`` bars
    (50 when the range is zero); %K = SMA(raw, smooth_k) (1 = fast stochastic);
    %D = SMA(%K, d_period).
    """
    h, lo, c = _as_array(high, "high"), _as_array(low, "low"), _as_array(close, "close")
    _check_lengths(high=h, low=lo, close=c)
    k_period, d_period = _check_period(k_period, "k_period"), _check_period(d_period, "d_period")
    smooth_k = _check_period(smooth_k, "smooth_k")
    hh, ll = rolling_max(h, k_period), rolling_min(lo, k_period)
    rng = hh - ll
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.where(rng == 0.0, 50.0, 100.0 * (c - ll) / rng)
    raw = np.where(np.isnan(rng), np.nan, raw)
    k = sma(raw, smooth_k)
    return k, sma(k, d_period)


# --------------------------------------------------------------------------- volatility / trend


def true_range(high: ArrayLike, low: ArrayLike, close: ArrayLike) -> FloatArray:
    """max(high-low, |high-prev close|, |low-prev close|); the first bar has no previous close,
    so its true range is high - low."""
    h, lo, c = _as_array(high, "high"), _as_array(low, "low"), _as_array(close, "close")
    _check_lengths(high=h, low=lo, close=c)
    tr: FloatArray = h - lo
    if len(c) > 1:
        prev = c[:-1]
        tr[1:] = np.maximum.reduce([tr[1:], np.abs(h[1:] - prev), np.abs(lo[1:] - prev)])
    return tr


def atr(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int = 14) -> FloatArray:
    """Wilder's Average True Range: RMA(true_range, period); first value at ``period - 1``
    (the seed is the mean of the first ``period`` true ranges, bar 0's being high - low)."""
    return rma(true_range(high, low, close), _check_period(period))


def _directional(
    high: FloatArray, low: FloatArray, close: FloatArray, period: int
) -> tuple[FloatArray, FloatArray]:
    up = np.full(len(high), np.nan)
    down = np.full(len(high), np.nan)
    up[1:] = high[1:] - high[:-1]
    down[1:] = low[:-1] - low[1:]
    # Wilder: only the larger move counts, and only if it is positive.
    plus_dm = np.where((up > down) & (up > 0.0), up, 0.0)
    minus_dm = np.where((down > up) & (down > 0.0), down, 0.0)
    plus_dm[0] = minus_dm[0] = np.nan
    tr = true_range(high, low, close)
    tr[0] = np.nan  # no previous close: DM and TR both start at bar 1, like TA-Lib
    smoothed_tr = rma(tr, period)
    with np.errstate(divide="ignore", invalid="ignore"):
        plus_di = np.where(smoothed_tr == 0.0, 0.0, 100.0 * rma(plus_dm, period) / smoothed_tr)
        minus_di = np.where(smoothed_tr == 0.0, 0.0, 100.0 * rma(minus_dm, period) / smoothed_tr)
    nan = np.isnan(smoothed_tr)
    return np.where(nan, np.nan, plus_di), np.where(nan, np.nan, minus_di)


def directional_indicators(
    high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int = 14
) -> tuple[FloatArray, FloatArray]:
    """Wilder's (+DI, -DI) = 100 * RMA(+DM or -DM) / RMA(TR); first value at index ``period``."""
    h, lo, c = _as_array(high, "high"), _as_array(low, "low"), _as_array(close, "close")
    _check_lengths(high=h, low=lo, close=c)
    return _directional(h, lo, c, _check_period(period))


def adx(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int = 14) -> FloatArray:
    """Wilder's ADX: RMA(DX, period) with DX = 100*|+DI - -DI|/(+DI + -DI) (0 when both are 0);
    first value at index ``2 * period - 1``."""
    plus_di, minus_di = directional_indicators(high, low, close, period)
    total = plus_di + minus_di
    with np.errstate(divide="ignore", invalid="ignore"):
        dx = np.where(total == 0.0, 0.0, 100.0 * np.abs(plus_di - minus_di) / total)
    return rma(np.where(np.isnan(total), np.nan, dx), period)


def donchian(
    high: ArrayLike, low: ArrayLike, period: int = 20
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Donchian channel -> (upper, lower, middle) over the last ``period`` bars INCLUDING the
    current one; for a breakout test compare close[i] with upper[i - 1]."""
    h, lo = _as_array(high, "high"), _as_array(low, "low")
    _check_lengths(high=h, low=lo)
    period = _check_period(period)
    upper, lower = rolling_max(h, period), rolling_min(lo, period)
    return upper, lower, (upper + lower) / 2.0


def vwap(
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    volume: ArrayLike,
    period: int | None = None,
) -> FloatArray:
    """Volume-weighted average of the typical price (h+l+c)/3.

    ``period=None`` accumulates from the first bar; an integer uses the last ``period`` bars.
    NaN while the volume in the window is zero.
    """
    h, lo, c = _as_array(high, "high"), _as_array(low, "low"), _as_array(close, "close")
    v = _as_array(volume, "volume")
    _check_lengths(high=h, low=lo, close=c, volume=v)
    pv = (h + lo + c) / 3.0 * v
    if period is None:
        num, den = np.cumsum(pv), np.cumsum(v)
    else:
        period = _check_period(period)
        num, den = _rolling_sum(pv, period), _rolling_sum(v, period)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0.0, num / den, np.nan)


# --------------------------------------------------------------------------- crosses


def _cross(
    a: SeriesView | ArrayLike | float, b: SeriesView | ArrayLike | float
) -> tuple[FloatArray, FloatArray, bool]:
    """Both sides as equal-length arrays, plus whether to answer for the current bar only."""
    # On progressive views (inside next()) only the last two bars matter: slicing them keeps
    # a per-bar call O(1) instead of re-scanning the whole history on every bar.
    current_only = isinstance(a, SeriesView) or isinstance(b, SeriesView)
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.ndim > 1 or y.ndim > 1:
        raise ValueError("crossover/crossunder take 1-D arrays or scalars")
    if x.ndim == 1 and y.ndim == 1:
        if len(x) != len(y):
            _check_lengths(a=x, b=y)
        # Two 1-d arrays of one length: broadcasting would hand back the same elements, and
        # broadcast_arrays cost a vectorized crossover as much as its comparisons.
    else:
        x, y = np.broadcast_arrays(np.atleast_1d(x), np.atleast_1d(y))
    if current_only:
        x, y = x[-2:], y[-2:]
    return x, y, current_only


def _cross_result(hits: np.ndarray, current_only: bool) -> np.ndarray | bool:
    out = np.zeros(len(hits) + 1, dtype=bool)
    out[1:] = hits
    return bool(out[-1]) if current_only else out


def _memoizable(a: SeriesView, b: SeriesView) -> bool:
    """Both views on one clock over read-only arrays of one length, so answers cannot change."""
    return (
        a._clock is b._clock
        and a._array.ndim == 1
        and a._array.shape == b._array.shape
        and not a._array.flags.writeable
        and not b._array.flags.writeable
    )


def _cross_memo(x: np.ndarray, y: np.ndarray, *, up: bool) -> tuple[bool, ...]:
    """The per-bar answer for every bar, from the same comparisons the scalar path makes.

    Bar i only reads x and y at i - 1 and i, so nothing is revealed early. One extra False at
    the end answers index -1 (the clock before the first bar) as the scalar path does. A tuple
    of Python bools: indexing it is the cheapest lookup there is (a memoryview's costs about
    twice as much), it is read once per bar per call, and unlike a list the garbage collector
    stops tracking it at its first pass (a list of a million items would be walked again by
    every later collection of its generation during the run).
    """
    out = np.zeros(len(x) + 1, dtype=bool)
    if up:
        out[1:-1] = (x[:-1] <= y[:-1]) & (x[1:] > y[1:])
    else:
        out[1:-1] = (x[:-1] >= y[:-1]) & (x[1:] < y[1:])
    return tuple(out.tolist())


def _last_two(x: object) -> tuple[float, float] | None:
    """(previous, current) of a view, a number twice, or None for anything else (an array)."""
    if type(x) is SeriesView:
        i = x._clock.i
        if i < 1:
            return math.nan, math.nan
        mv = x._mv
        return mv[i - 1], mv[i]
    if isinstance(x, int | float | np.number):
        value = float(x)
        return value, value
    return None


@overload
def crossover(a: SeriesView, b: SeriesView | ArrayLike | float) -> bool: ...
@overload
def crossover(a: ArrayLike | float, b: SeriesView) -> bool: ...
@overload
def crossover(a: ArrayLike | float, b: ArrayLike | float) -> np.ndarray: ...
def crossover(
    a: SeriesView | ArrayLike | float, b: SeriesView | ArrayLike | float
) -> np.ndarray | bool:
    """True at bar i when a[i-1] <= b[i-1] and a[i] > b[i].

    On arrays: a bool array (index 0 is never a cross). On progressive views (inside
    ``next()``): a plain bool for the current bar. A NaN at i-1 or i is never a cross. Either
    argument may be a scalar level, e.g. ``crossover(rsi, 30)``.
    """
    # The per-bar hot path (two views on one clock, called on every bar): one lookup in the
    # answers _crossing computed for every bar on first use. The memo is probed without a
    # type() check first (that check was a fifth of the call): only a SeriesView has
    # ``_up_with`` (strategy code cannot define ``_`` names), and a first argument that is not
    # a view pays the AttributeError instead, on the slower paths. Everything else is in
    # _crossing, so that this frame holds two locals (a frame's cost grows with its locals).
    try:
        if a._up_with is b:  # type: ignore[union-attr]
            return a._up[a._clock.i]  # type: ignore[union-attr]
    except AttributeError:
        pass
    return _crossing(a, b, True)


@overload
def crossunder(a: SeriesView, b: SeriesView | ArrayLike | float) -> bool: ...
@overload
def crossunder(a: ArrayLike | float, b: SeriesView) -> bool: ...
@overload
def crossunder(a: ArrayLike | float, b: ArrayLike | float) -> np.ndarray: ...
def crossunder(
    a: SeriesView | ArrayLike | float, b: SeriesView | ArrayLike | float
) -> np.ndarray | bool:
    """True at bar i when a[i-1] >= b[i-1] and a[i] < b[i] (mirror of ``crossover``)."""
    try:  # the memo probe of crossover's hot path
        if a._down_with is b:  # type: ignore[union-attr]
            return a._down[a._clock.i]  # type: ignore[union-attr]
    except AttributeError:
        pass
    return _crossing(a, b, False)


def _crossing(
    a: SeriesView | ArrayLike | float, b: SeriesView | ArrayLike | float, up: bool
) -> np.ndarray | bool:
    """crossover (``up``) or crossunder past the memo probe.

    Two memoizable views without a memo partner yet get every bar's answer at once; a view
    with anything else is answered from four scalars (~0.1 us instead of the ~8 us the array
    path costs on views); arrays get the array path. Comparisons with NaN are False.
    """
    if (
        type(a) is SeriesView
        and type(b) is SeriesView
        and (a._up_with if up else a._down_with) is NO_PARTNER
        and _memoizable(a, b)
    ):
        memo = _cross_memo(a._array, b._array, up=up)
        if up:
            a._up, a._up_with = memo, b
        else:
            a._down, a._down_with = memo, b
        return memo[a._clock.i]
    if type(a) is SeriesView or type(b) is SeriesView:
        pa, pb = _last_two(a), _last_two(b)
        if pa is not None and pb is not None:
            if up:
                return pa[0] <= pb[0] and pa[1] > pb[1]
            return pa[0] >= pb[0] and pa[1] < pb[1]
    x, y, current_only = _cross(a, b)
    if up:
        return _cross_result((x[:-1] <= y[:-1]) & (x[1:] > y[1:]), current_only)
    return _cross_result((x[:-1] >= y[:-1]) & (x[1:] < y[1:]), current_only)


# --------------------------------------------------------------------------- resampling


def resample_ohlc(
    timestamps: np.ndarray,
    open: ArrayLike,
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    volume: ArrayLike,
    factor_or_rule: int | str,
    tz: str = "UTC",
) -> Resampled:
    """Aggregate base bars into higher-timeframe bars without look-ahead.

    ``factor_or_rule``: an int groups that many consecutive bars (from the first bar); a string
    groups by calendar buckets: ``'<n>s'``, ``'<n>min'``, ``'<n>h'`` (aligned to UTC),
    ``'<n>D'``, ``'W'`` (weeks starting Monday), ``'<n>M'`` (calendar months). Days, weeks and
    months are the sessions of the IANA time zone ``tz`` (the instrument's, e.g.
    ``"America/New_York"``; UTC days by default), the same buckets market data serves. Use
    ``align_to_base`` to put a higher-timeframe series back on the base clock. Raises
    ValueError on bad input.
    """
    # Defined here, not imported, so the sandbox's ``indicators`` facade (functions defined in
    # this module) offers it; the work is done by the engine's one resampler.
    return resample_bars(timestamps, open, high, low, close, volume, factor_or_rule, tz)


def align_to_base(values: ArrayLike, resampled: Resampled) -> FloatArray:
    """Map one value per higher-timeframe bar onto the base clock, forward-filled.

    Base bar i sees the value of the latest higher bar whose ``available_index <= i``; before
    the first higher bar is finished the result is NaN. This is the look-ahead-safe way to use,
    say, a daily SMA on hourly bars: ``align_to_base(sma(r.close, 20), r)``.
    """
    vals = _as_array(values, "values")
    if len(vals) != len(resampled.available_index):
        raise ValueError(
            f"values has {len(vals)} entries but there are "
            f"{len(resampled.available_index)} higher-timeframe bars"
        )
    idx = np.searchsorted(resampled.available_index, np.arange(resampled.n_base), side="right")
    padded = np.concatenate(([np.nan], vals))
    return padded[idx]
