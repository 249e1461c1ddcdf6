"""Performance statistics of a backtest as pure NumPy functions.

Each statistic is defined in exactly one function below and its convention is in that
function's docstring; ``compute_statistics`` only wires them together. docs/metrics.md lists
every key of its result with the formula. Shared conventions:

- Returns, drawdowns, rates and probabilities are decimal fractions (0.05 = 5 %).
- Time-based statistics use DAILY returns: the last mark-to-market equity of every UTC calendar
  day (``daily_returns``). Drawdowns use the per-bar equity so intraday dips count.
- Standard deviations are sample standard deviations (ddof=1) unless a docstring says otherwise.
- Undefined values (too little data, division by zero) are NaN here and None in
  ``compute_statistics``' JSON-friendly output.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import numpy as np

from backtesting.engine import kernel

FloatArray = np.ndarray
StatValue = float | int | str | None | list[dict[str, int | float | None]]

NS_PER_DAY = 86_400 * 10**9
DAYS_PER_YEAR = 365.25  # calendar year used by CAGR and nothing else
VAR_LEVEL = 0.95
# What compute_statistics(full=False) returns, in the full report's order: the headline a
# parameter sweep stores for every combination (backtesting/sandbox/compact.py).
HEADLINE_STATISTICS = (
    "n_days", "exposure_time", "average_exposure", "equity_final", "total_return",
    "annualized_return", "cagr", "annualized_volatility", "sharpe_ratio", "sortino_ratio",
    "calmar_ratio", "probabilistic_sharpe_ratio", "max_drawdown", "max_drawdown_duration_days",
    "buy_and_hold_return", "n_trades", "win_rate", "profit_factor", "expectancy_return", "sqn",
)  # fmt: skip
# Every other key: what full=False leaves out, and skips computing where it can (the sweep
# would throw it away: tail risk, benchmark regression, calendar tables, trade details).
DETAIL_STATISTICS = (
    "start", "end", "duration_days", "n_bars", "equity_start", "equity_peak",
    "periods_per_year", "risk_free_rate", "var_95", "cvar_95", "avg_drawdown",
    "avg_drawdown_duration_days", "n_drawdowns", "alpha", "beta", "n_wins", "n_losses",
    "n_breakeven", "loss_rate", "max_consecutive_wins", "max_consecutive_losses", "best_trade",
    "worst_trade", "avg_trade_return", "avg_win", "avg_loss", "avg_win_return",
    "avg_loss_return", "expectancy", "kelly_criterion", "avg_trade_bars", "max_trade_bars",
    "avg_trade_duration_days", "max_trade_duration_days", "monthly_returns", "yearly_returns",
)  # fmt: skip
_HEADLINE = frozenset(HEADLINE_STATISTICS)

__all__ = [
    "DETAIL_STATISTICS",
    "HEADLINE_STATISTICS",
    "DrawdownEpisodes",
    "alpha_beta",
    "annualized_return",
    "annualized_volatility",
    "cagr",
    "calmar_ratio",
    "compute_statistics",
    "conditional_value_at_risk",
    "daily_closes",
    "daily_returns",
    "drawdown_episodes",
    "drawdown_series",
    "infer_periods_per_year",
    "kelly_criterion",
    "max_consecutive",
    "max_drawdown",
    "per_period_rate",
    "period_returns",
    "probabilistic_sharpe_ratio",
    "profit_factor",
    "sharpe_ratio",
    "sortino_ratio",
    "sqn",
    "value_at_risk",
]


# --------------------------------------------------------------------------- validation


def _as_float(x: object, name: str) -> FloatArray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got {arr.ndim} dimensions")
    return arr


def _as_timestamps(timestamps: object) -> np.ndarray:
    ts = np.asarray(timestamps)
    if ts.ndim != 1 or len(ts) == 0:
        raise ValueError("timestamps must be a non-empty 1-D array of int64 ns")
    if not np.issubdtype(ts.dtype, np.integer):
        raise ValueError(f"timestamps must be integers (ns since epoch UTC), got {ts.dtype}")
    ts = np.asarray(ts, dtype=np.int64)  # no copy when already int64
    if bool(np.any(ts[1:] <= ts[:-1])):
        raise ValueError("timestamps must be strictly increasing")
    return ts


def _check_same_length(**arrays: np.ndarray) -> None:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise ValueError(f"arrays must have the same length ({detail})")


# --------------------------------------------------------------------------- calendar


def _last_index_per_group(keys: np.ndarray) -> np.ndarray:
    """Index of the last element of each run of equal consecutive keys."""
    return np.flatnonzero(np.append(keys[1:] != keys[:-1], True))


def daily_closes(timestamps: np.ndarray, equity: np.ndarray) -> tuple[np.ndarray, FloatArray]:
    """(UTC day numbers since 1970-01-01, last equity of each day) for days that have bars."""
    ts = _as_timestamps(timestamps)
    eq = _as_float(equity, "equity")
    _check_same_length(timestamps=ts, equity=eq)
    days, last = _day_ends(ts)
    return days[last], eq[last]


class _Calendar(NamedTuple):
    """The bar-derived part of a report: the same for every run over the same timestamps."""

    day_last: np.ndarray  # index of the last bar of each UTC day
    day_numbers: np.ndarray  # the UTC day number of each of those bars
    inferred_ppy: int  # _periods_per_year(day_numbers)


class _CalendarMemo(NamedTuple):
    stamps: np.ndarray  # a private copy of the timestamps it was computed from
    calendar: _Calendar
    last_saturday: int  # position in day_numbers of the last Saturday, -1 without one


# The last calendar computed. A parameter sweep reports hundreds of runs over the same bars,
# each over a suffix of them (the window after its own warm-up); finding the day ends and
# checking the stamps again was a tenth of a combination's report. A hit needs the very same
# values (compared element by element, so a changed or writeable array never gets a stale
# answer); one entry only, so at most one copy of a timestamps array is kept.
_memo: _CalendarMemo | None = None


def _calendar(timestamps: object) -> tuple[np.ndarray, _Calendar]:
    """(validated int64 timestamps, their calendar); ValueError like _as_timestamps."""
    global _memo
    ts = np.asarray(timestamps)
    memo = _memo
    if memo is not None and ts.dtype == np.int64 and ts.ndim == 1:
        skip = len(memo.stamps) - len(ts)
        if len(ts) and skip >= 0 and np.array_equal(ts, memo.stamps[skip:]):
            return ts, _suffix_calendar(memo, skip)  # stamps that passed _as_timestamps
    ts = _as_timestamps(ts)
    days, day_last = _day_ends(ts)
    day_numbers = days[day_last]
    saturdays = _saturdays(day_numbers)
    calendar = _Calendar(day_last, day_numbers, _periods_for(len(saturdays) > 0))
    _memo = _CalendarMemo(ts.copy(), calendar, int(saturdays[-1]) if len(saturdays) else -1)
    for arr in (day_last, day_numbers):
        arr.flags.writeable = False  # shared with later reports over the same stamps
    return ts, calendar


def _suffix_calendar(memo: _CalendarMemo, skip: int) -> _Calendar:
    """The calendar of memo.stamps[skip:] from the memo's: the same days, the same ends."""
    if skip == 0:
        return memo.calendar
    # A day's last bar is at or after `skip` exactly when the day has a bar in the suffix.
    first = int(np.searchsorted(memo.calendar.day_last, skip))
    day_last = memo.calendar.day_last[first:] - skip
    day_last.flags.writeable = False
    day_numbers = memo.calendar.day_numbers[first:]
    return _Calendar(day_last, day_numbers, _periods_for(memo.last_saturday >= first))


def _day_ends(ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(UTC day number of every bar, index of the last bar of each day) for valid ``ts``."""
    days = ts // NS_PER_DAY  # floor division keeps pre-1970 days correct too
    return days, _last_index_per_group(days)


def daily_returns(timestamps: np.ndarray, equity: np.ndarray) -> FloatArray:
    """Simple returns between consecutive daily closes (see ``daily_closes``).

    The first day's return runs from the first bar's equity to that day's close, so intraday
    P&L on day one counts; it is omitted when the first day has a single bar (it would be a
    spurious 0). Days without bars are skipped, not filled.
    """
    ts = _as_timestamps(timestamps)
    eq = _as_float(equity, "equity")
    _check_same_length(timestamps=ts, equity=eq)
    return _daily_returns(eq, _day_ends(ts)[1])


def _daily_returns(eq: FloatArray, last: np.ndarray) -> FloatArray:
    closes = eq[last]
    first_day_bars = int(last[0]) + 1  # timestamps increase: day one is bars 0..last[0]
    series = np.concatenate(([eq[0]], closes)) if first_day_bars > 1 else closes
    with np.errstate(divide="ignore", invalid="ignore"):
        returns: FloatArray = series[1:] / series[:-1] - 1.0
    return returns


def infer_periods_per_year(timestamps: np.ndarray) -> int:
    """365 if any bar falls on a Saturday (UTC) - a 7-day market such as crypto - else 252.

    Saturday rather than "any weekend day" because FX and futures open on Sunday evening UTC.
    """
    days = _as_timestamps(timestamps) // NS_PER_DAY
    return _periods_per_year(days)


def _periods_per_year(days: np.ndarray) -> int:
    return _periods_for(len(_saturdays(days)) > 0)


def _saturdays(days: np.ndarray) -> np.ndarray:
    """Positions of the Saturdays among UTC day numbers."""
    return np.flatnonzero((days + 3) % 7 == 5)  # 1970-01-01 was a Thursday; Monday = 0


def _periods_for(has_saturday: bool) -> int:
    """A calendar that trades on Saturdays trades every day (365 a year), else 252."""
    return 365 if has_saturday else 252


def per_period_rate(annual_rate: float, periods_per_year: float) -> float:
    """Compounding-equivalent per-period rate: (1 + annual)^(1/periods) - 1."""
    if periods_per_year <= 0:
        raise ValueError(f"periods_per_year must be > 0, got {periods_per_year}")
    return float((1.0 + annual_rate) ** (1.0 / periods_per_year)) - 1.0


# --------------------------------------------------------------------------- return statistics


def _compound(growth: float, exponent: float) -> float:
    """growth ** exponent - 1, as Python's float power gives it, with two answers it lacks.

    inf when the result passes the largest float: a short span with a large gain compounds
    past it (12.5 % in one hour is 1.125 ** 8766 a year), where the power raises
    OverflowError. NaN where a negative growth factor to a fractional power has no real
    value (the power returns a complex number, which no report can hold).
    """
    try:
        value = growth**exponent
    except OverflowError:
        return math.inf if growth > 0.0 else math.nan
    return math.nan if isinstance(value, complex) else float(value) - 1.0


def annualized_return(returns: np.ndarray, periods_per_year: float) -> float:
    """Geometric: prod(1 + r)^(periods_per_year / N) - 1 over N periods; -1 once a return is <= -1
    (equity wiped out)."""
    r = _as_float(returns, "returns")
    if len(r) == 0:
        return math.nan
    # Once equity hits zero the later returns are 0/0; the account is gone whatever they say.
    if (r <= -1.0).any():
        return -1.0
    growth = float(np.multiply.reduce(1.0 + r))  # np.prod without its Python-level wrapper
    return _compound(growth, periods_per_year / len(r))


def cagr(equity_start: float, equity_end: float, start_ns: int, end_ns: int) -> float:
    """Compound annual growth over calendar time: (end/start)^(1/years) - 1,
    years = elapsed ns / (365.25 days); -1 if wiped out, NaN for zero elapsed time."""
    years = (end_ns - start_ns) / (NS_PER_DAY * DAYS_PER_YEAR)
    if years <= 0 or equity_start <= 0:
        return math.nan
    if equity_end <= 0:
        return -1.0
    return _compound(equity_end / equity_start, 1.0 / years)


def annualized_volatility(returns: np.ndarray, periods_per_year: float) -> float:
    """std(returns, ddof=1) * sqrt(periods_per_year); NaN with fewer than 2 returns."""
    r = _as_float(returns, "returns")
    if len(r) < 2:
        return math.nan
    return _std1(r) * math.sqrt(periods_per_year)


# np.max / np.min are np.maximum.reduce / np.minimum.reduce behind a Python-level wrapper;
# the statistics call the ufuncs' reduce directly (the same values, NaN and ties included).


def _mean(x: FloatArray) -> float:
    """np.mean of a non-empty 1-d float64 array without its Python-level dispatch (a dozen
    calls run per backtest): the same pairwise sum (np.add.reduce) over the same count, so
    the same bits."""
    return float(np.add.reduce(x) / len(x))


def _var1(x: FloatArray) -> float:
    """np.var(x, ddof=1) of a 1-d float64 array of 2+ values, step for step as NumPy's _var
    computes it (mean, deviations squared in place, pairwise sum, / (n - 1)), so the same
    bits."""
    deviations = x - np.add.reduce(x) / len(x)
    np.multiply(deviations, deviations, out=deviations)
    return float(np.add.reduce(deviations) / (len(x) - 1))


def _std1(x: FloatArray) -> float:
    """np.std(x, ddof=1) likewise: the correctly rounded sqrt of _var1."""
    return math.sqrt(_var1(x))


def _cov1(x: FloatArray, y: FloatArray) -> float:
    """np.cov(x, y, ddof=1)[0, 1] of two 1-d float64 arrays of 2+ values, step for step as
    np.cov computes it: the (2, n) stack centred by its row means, the same np.dot of it with
    its transpose (the BLAS call that fixes the summation order), times 1 / (n - 1)."""
    n = len(x)
    stacked = np.empty((2, n))
    stacked[0], stacked[1] = x, y
    stacked -= (np.add.reduce(stacked, axis=1) / n)[:, None]
    products = np.dot(stacked, stacked.T)
    products *= np.true_divide(1, n - 1.0)
    return float(products[0, 1])


def _ratio(num: float, den: float) -> float:
    if not (math.isfinite(num) and math.isfinite(den)) or den == 0.0:
        return math.nan
    return num / den


def sharpe_ratio(
    returns: np.ndarray, risk_free_rate: float = 0.0, periods_per_year: float = 252
) -> float:
    """mean(r - rf_p) / std(r - rf_p, ddof=1) * sqrt(periods_per_year).

    ``risk_free_rate`` is annual; rf_p = per_period_rate(risk_free_rate, periods_per_year).
    NaN with fewer than 2 returns or zero volatility.
    """
    r = _as_float(returns, "returns")
    if len(r) < 2:
        return math.nan
    return _ExcessReturns.of(r, risk_free_rate, periods_per_year).sharpe(periods_per_year)


def sortino_ratio(
    returns: np.ndarray, risk_free_rate: float = 0.0, periods_per_year: float = 252
) -> float:
    """mean(r - rf_p) / DD * sqrt(periods_per_year), DD = sqrt(mean(min(r - rf_p, 0)^2)).

    The downside deviation averages over ALL N periods (not only losing ones), with the
    per-period risk-free rate as the target. NaN with fewer than 2 returns or no downside.
    """
    r = _as_float(returns, "returns")
    if len(r) < 2:
        return math.nan
    return _ExcessReturns.of(r, risk_free_rate, periods_per_year).sortino(periods_per_year)


def alpha_beta(
    returns: np.ndarray,
    benchmark_returns: np.ndarray,
    risk_free_rate: float = 0.0,
    periods_per_year: float = 252,
) -> tuple[float, float]:
    """(alpha, beta) of ``returns`` against ``benchmark_returns`` (same periods), CAPM style.

    beta = cov(r - rf_p, b - rf_p) / var(b - rf_p) (both ddof=1);
    alpha = (1 + mean(r - rf_p - beta * (b - rf_p)))^periods_per_year - 1 (annualised).
    """
    r, b = _as_float(returns, "returns"), _as_float(benchmark_returns, "benchmark_returns")
    _check_same_length(returns=r, benchmark_returns=b)
    if len(r) < 2:
        return math.nan, math.nan
    rf = per_period_rate(risk_free_rate, periods_per_year)
    xr, xb = r - rf, b - rf
    beta = _ratio(_cov1(xr, xb), _var1(xb))
    if math.isnan(beta):
        return math.nan, math.nan
    alpha = _compound(1.0 + _mean(xr - beta * xb), periods_per_year)
    return alpha, beta


def probabilistic_sharpe_ratio(
    returns: np.ndarray,
    risk_free_rate: float = 0.0,
    periods_per_year: float = 252,
    benchmark_sharpe: float = 0.0,
) -> float:
    """Bailey & Lopez de Prado (2012): P(true Sharpe > benchmark_sharpe).

    PSR = Phi((SR - SR*) * sqrt(N - 1) / sqrt(1 - g3 * SR + (g4 - 1) / 4 * SR^2)) with SR the
    NON-annualised per-period Sharpe of excess returns (ddof=1), g3 the skewness and g4 the
    (non-excess) kurtosis as population moments, SR* per period too. NaN if N < 3.
    """
    r = _as_float(returns, "returns")
    if len(r) < 3:
        return math.nan
    return _ExcessReturns.of(r, risk_free_rate, periods_per_year).psr(benchmark_sharpe)


class _ExcessReturns:
    """Returns over the per-period risk-free rate with their mean and sample std, computed
    once and shared by the Sharpe, Sortino and probabilistic Sharpe ratios (each of which
    used to recompute them: same operations, so the same bits). Needs 2+ returns.

    The deviations from the mean and their squares are _var1's and also the PSR's centred
    values and their squares (the same subtraction of the same mean, and ``c**2`` is NumPy's
    square, ``c * c``), so they are computed once: the sample variance and the PSR's second
    moment divide the same pairwise sum by n - 1 and by n.
    """

    __slots__ = ("centred", "excess", "mean", "squares", "std", "sum_squares")

    def __init__(self, excess: FloatArray) -> None:
        n = len(excess)
        mean = np.add.reduce(excess) / n  # _mean's and _var1's mean
        self.excess = excess
        self.mean = float(mean)
        self.centred = excess - mean
        self.squares = self.centred * self.centred
        self.sum_squares = np.add.reduce(self.squares)
        self.std = math.sqrt(float(self.sum_squares / (n - 1)))  # _std1(excess)

    @classmethod
    def of(cls, r: FloatArray, risk_free_rate: float, periods_per_year: float) -> _ExcessReturns:
        rf = per_period_rate(risk_free_rate, periods_per_year)
        # r - 0.0 is r element for element (-0.0 - 0.0 is -0.0), so no copy for a zero rate.
        return cls(r - rf if rf != 0.0 else r)

    def sharpe(self, periods_per_year: float) -> float:
        return _ratio(self.mean, self.std) * math.sqrt(periods_per_year)

    def sortino(self, periods_per_year: float) -> float:
        downside = math.sqrt(_mean(np.minimum(self.excess, 0.0) ** 2))
        return _ratio(self.mean, downside) * math.sqrt(periods_per_year)

    def psr(self, benchmark_sharpe: float) -> float:
        sr = _ratio(self.mean, self.std)
        # _mean(centred**2): the same squares' sum over the count.
        m2 = float(self.sum_squares / len(self.excess))
        if math.isnan(sr) or m2 == 0.0:
            return math.nan
        m3, m4 = third_and_fourth_moments(self.centred, self.squares)
        g3 = m3 / m2**1.5
        g4 = m4 / m2**2
        radicand = 1.0 - g3 * sr + (g4 - 1.0) / 4.0 * sr**2
        if radicand <= 0.0:
            return math.nan
        z = (sr - benchmark_sharpe) * math.sqrt(len(self.excess) - 1) / math.sqrt(radicand)
        return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def third_and_fourth_moments(
    centred: FloatArray, squared: FloatArray | None = None
) -> tuple[float, float]:
    """mean(c^3) and mean(c^4) of centred values c, the powers taken as products of c * c.

    Not NumPy's `c**3` and `c**4`: its power of a float array goes through a SIMD routine for
    positive bases and libm's pow for negative ones, whose last bits differ from each other
    and from machine to machine (AVX-512 or not), and the negative bases cost ~0.2 us an
    element (a sweep's combination spent a fifth of its time here). Products are IEEE
    multiplications: the same bits on every machine, ~60x faster, and within two roundings
    of the exact power, which moves a skewness or kurtosis by parts in 1e16. `squared`:
    centred * centred when the caller has it already.
    """
    if squared is None:
        squared = centred * centred
    return _mean(squared * centred), _mean(squared * squared)


def value_at_risk(returns: np.ndarray, level: float = VAR_LEVEL) -> float:
    """Historical VaR: the (1 - level) quantile of returns, linear interpolation (numpy's
    default); a loss is negative. NaN for no returns."""
    r = _as_float(returns, "returns")
    if len(r) == 0:
        return math.nan
    return float(np.quantile(r, 1.0 - level))


def _quantile_of_sorted(s: FloatArray, q: float) -> float:
    """np.quantile(x, q) (method 'linear') from s = np.sort(x) of a non-empty 1-d float64 x
    without -0.0, step for step as NumPy 2 computes it, without its Python-level set-up: the
    same two order statistics (its partition finds the values a sort puts there; only 0.0 and
    -0.0, equal but not the same bits, could come out in another order), the same floor,
    weight and interpolation, so the same bits. Past the last index NumPy takes the last value
    twice and its weight becomes virtual + 1; a NaN (sorted last) is the answer, as in NumPy."""
    n = len(s)
    virtual = (n - 1) * q
    lo = -1 if virtual >= n - 1 else math.floor(virtual)
    hi = -1 if lo == -1 else lo + 1
    last = float(s[-1])
    if math.isnan(last):
        return last
    a, b = float(s[lo]), float(s[hi])
    t = virtual - lo
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


def conditional_value_at_risk(returns: np.ndarray, level: float = VAR_LEVEL) -> float:
    """Historical CVaR (expected shortfall): mean of the k worst returns,
    k = floor((N - 1) * (1 - level)) + 1 (empyrical's convention). NaN for no returns."""
    r = _as_float(returns, "returns")
    if len(r) == 0:
        return math.nan
    k = int((len(r) - 1) * (1.0 - level)) + 1
    return _mean(np.sort(r)[:k])


# --------------------------------------------------------------------------- drawdowns


def drawdown_series(equity: np.ndarray) -> FloatArray:
    """equity / running peak - 1 per bar (<= 0; 0 at a new high).

    The compiled kernel does it in one pass (kernel.c, tp_drawdowns; the same two IEEE
    operations per bar, so the same bits); the NumPy below is its reference.
    """
    eq = _as_float(equity, "equity")
    if kernel.KERNEL is not None:
        return kernel.KERNEL.drawdowns(np.ascontiguousarray(eq), True, False)[0]
    peak = np.maximum.accumulate(eq)
    with np.errstate(divide="ignore", invalid="ignore"):
        return eq / peak - 1.0


def max_drawdown(equity: np.ndarray) -> float:
    """Deepest drawdown as a negative fraction (min of ``drawdown_series``); 0 if never below
    a previous peak, NaN for empty input."""
    dd = drawdown_series(equity)
    return float(np.minimum.reduce(dd)) if len(dd) else math.nan


class DrawdownEpisodes(NamedTuple):
    """One entry per drawdown: depth (negative fraction) and duration in ns."""

    depth: FloatArray
    duration_ns: np.ndarray
    recovered: np.ndarray


def drawdown_episodes(timestamps: np.ndarray, equity: np.ndarray) -> DrawdownEpisodes:
    """Split the per-bar drawdown into episodes (maximal runs of bars below the peak).

    Duration runs from the peak bar (the bar before the run) to the first bar back at the peak,
    or to the last bar if the drawdown has not recovered; depth is the run's minimum.
    """
    ts = _as_timestamps(timestamps)
    dd = drawdown_series(equity)
    _check_same_length(timestamps=ts, equity=dd)
    return _episodes(ts, dd)


def _episodes(ts: np.ndarray, dd: FloatArray) -> DrawdownEpisodes:
    under = np.concatenate(([False], dd < 0.0, [False]))
    edges = np.flatnonzero(under[1:] != under[:-1])
    starts, ends = edges[0::2], edges[1::2]  # run = bars [start, end)
    depth = np.zeros(0)
    if len(starts):
        # Runs are disjoint and non-empty: reduceat over [start, end) pairs, odd slots unused.
        bounds = np.column_stack((starts, ends)).ravel()
        depth = np.minimum.reduceat(np.append(dd, 0.0), bounds)[0::2]
    recovered = ends < len(ts)
    stop = np.where(recovered, np.minimum(ends, len(ts) - 1), len(ts) - 1)
    duration = ts[stop] - ts[np.maximum(starts - 1, 0)]
    return DrawdownEpisodes(depth.astype(np.float64), duration.astype(np.int64), recovered)


def calmar_ratio(annual_return: float, max_dd: float) -> float:
    """annualised return / |max drawdown|; NaN without a drawdown."""
    return _ratio(annual_return, abs(max_dd))


# --------------------------------------------------------------------------- trade statistics


def profit_factor(trade_pnl: np.ndarray) -> float:
    """Gross profit / gross loss in cash; inf with wins but no losses, NaN with neither."""
    pnl = _as_float(trade_pnl, "trade_pnl")
    return _profit_factor(pnl[pnl > 0], pnl[pnl < 0])


def _profit_factor(win_pnl: FloatArray, loss_pnl: FloatArray) -> float:
    gross_loss = -float(loss_pnl.sum())
    gross_win = float(win_pnl.sum())
    if gross_loss == 0.0:
        return math.inf if gross_win > 0 else math.nan
    return gross_win / gross_loss


def sqn(trade_pnl: np.ndarray) -> float:
    """Van Tharp's System Quality Number on cash P&L: sqrt(N) * mean / std(ddof=1)."""
    pnl = _as_float(trade_pnl, "trade_pnl")
    if len(pnl) < 2:
        return math.nan
    return _ratio(_mean(pnl), _std1(pnl)) * math.sqrt(len(pnl))


def kelly_criterion(trade_return: np.ndarray) -> float:
    """Kelly fraction p - q / b from trade returns: p = P(win), q = P(loss) over ALL trades
    (break-evens lower both), b = mean winning return / |mean losing return|.

    Equals p when there are no losses; NaN without trades or without wins.
    """
    ret = _as_float(trade_return, "trade_return")
    wins, losses = ret[ret > 0], ret[ret < 0]
    if len(ret) == 0 or len(wins) == 0:
        return math.nan
    p, q = len(wins) / len(ret), len(losses) / len(ret)
    if len(losses) == 0:
        return p
    return p - q * abs(_mean(losses)) / _mean(wins)


def max_consecutive(trade_pnl: np.ndarray, sign: int) -> int:
    """Longest run of consecutive trades with pnl of ``sign`` (+1 wins, -1 losses); a
    break-even trade ends both kinds of streak."""
    pnl = _as_float(trade_pnl, "trade_pnl")
    return _longest_run(np.sign(pnl) == sign)


def _longest_run(hit: np.ndarray) -> int:
    """Length of the longest run of True in a bool array (0 without one)."""
    hit = np.concatenate(([False], hit, [False]))
    edges = np.flatnonzero(hit[1:] != hit[:-1])
    return int((edges[1::2] - edges[0::2]).max()) if len(edges) else 0


# --------------------------------------------------------------------------- calendar tables


def period_returns(
    timestamps: np.ndarray, equity: np.ndarray, period: str
) -> list[dict[str, int | float | None]]:
    """Monthly (``period='M'``) or yearly (``'Y'``) returns from calendar-period closes.

    Each period's return is its last equity over the previous period's last equity, minus 1;
    the first period is measured from the first bar's equity, so the table compounds to the
    total return. Periods without bars are absent. Rows: {year, month, return} ({year, return}
    for 'Y').
    """
    if period not in ("M", "Y"):
        raise ValueError(f"period must be 'M' or 'Y', got {period!r}")
    ts = _as_timestamps(timestamps)
    eq = _as_float(equity, "equity")
    _check_same_length(timestamps=ts, equity=eq)
    days, last = _day_ends(ts)
    return _period_returns(eq, _months(days[last]), last, period)


def _months(day_numbers: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of UTC day numbers (computed once for both calendar tables)."""
    # A month's last bar is the last bar of its last day, so months are found from the
    # (few) daily closes instead of converting every bar's timestamp.
    return day_numbers.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _period_returns(
    eq: FloatArray, months: np.ndarray, day_last: np.ndarray, period: str
) -> list[dict[str, int | float | None]]:
    keys = months if period == "M" else months // 12
    in_days = _last_index_per_group(keys)
    last = day_last[in_days]
    months = months[in_days]
    closes = eq[last]
    with np.errstate(divide="ignore", invalid="ignore"):
        rets = closes / np.concatenate(([eq[0]], closes[:-1])) - 1.0
    # Integers and floats from NumPy in one conversion each (a decade of months is ~120
    # rows), rather than per row.
    years = (months // 12 + 1970).tolist()
    values = [r if math.isfinite(r) else None for r in rets.tolist()]
    if period == "Y":
        return [{"year": y, "return": r} for y, r in zip(years, values, strict=True)]
    numbers = (months % 12 + 1).tolist()
    return [
        {"year": y, "month": m, "return": r} for y, m, r in zip(years, numbers, values, strict=True)
    ]


# --------------------------------------------------------------------------- the report


def _clean(value: object) -> StatValue:
    """NumPy scalars to Python, NaN/inf to None (JSON has neither)."""
    if type(value) is float:  # most values: skip the isinstance chain below
        return value if math.isfinite(value) else None
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    return value  # type: ignore[return-value]


def _iso(ns: int) -> str:
    # datetime has microsecond resolution; sub-microsecond bar stamps do not exist in practice.
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(ns) // 1000)).isoformat()


def _overview(
    ts: np.ndarray, equity: FloatArray, exposure: FloatArray, n_days: int, full: bool = True
) -> dict[str, object]:
    abs_exposure = np.abs(exposure)
    # np.mean of the mask: its f8 sum of ones is the exact count, divided by n once.
    exposure_time = np.count_nonzero(abs_exposure > 0.0) / len(abs_exposure)
    average_exposure = _mean(abs_exposure)
    final = float(equity[-1])
    total_return = _ratio(final, float(equity[0])) - 1.0
    if not full:
        return {
            "n_days": n_days,
            "exposure_time": exposure_time,
            "average_exposure": average_exposure,
            "equity_final": final,
            "total_return": total_return,
        }
    return {
        "start": _iso(ts[0]),
        "end": _iso(ts[-1]),
        "duration_days": (ts[-1] - ts[0]) / NS_PER_DAY,
        "n_bars": len(ts),
        "n_days": n_days,
        "exposure_time": exposure_time,
        "average_exposure": average_exposure,
        "equity_start": float(equity[0]),
        "equity_final": final,
        "equity_peak": float(np.maximum.reduce(equity)),
        "total_return": total_return,
    }


def _return_stats(
    ts: np.ndarray, equity: FloatArray, rets: FloatArray, rf: float, ppy: float, mdd: float
) -> dict[str, object]:
    ann = annualized_return(rets, ppy)
    n = len(rets)
    excess = _ExcessReturns.of(rets, rf, ppy) if n >= 2 else None
    # With a zero rate the excess returns are the returns (see _ExcessReturns.of): their std
    # is annualized_volatility's.
    volatility = (
        excess.std * math.sqrt(ppy)
        if excess is not None and excess.excess is rets
        else annualized_volatility(rets, ppy)
    )
    return {
        "annualized_return": ann,
        "cagr": cagr(float(equity[0]), float(equity[-1]), int(ts[0]), int(ts[-1])),
        "annualized_volatility": volatility,
        "sharpe_ratio": excess.sharpe(ppy) if excess is not None else math.nan,
        "sortino_ratio": excess.sortino(ppy) if excess is not None else math.nan,
        "calmar_ratio": calmar_ratio(ann, mdd),
        "probabilistic_sharpe_ratio": excess.psr(0.0)
        if excess is not None and n >= 3
        else math.nan,
    }


def _tail_stats(rets: FloatArray) -> dict[str, object]:
    if len(rets) == 0:
        return {"var_95": math.nan, "cvar_95": math.nan}
    # One sort for both (value_at_risk and conditional_value_at_risk, the same values).
    # Returns are x / y - 1.0, which is never -0.0 (a difference of equal doubles is +0.0).
    ordered = np.sort(rets)
    k = int((len(rets) - 1) * (1.0 - VAR_LEVEL)) + 1
    return {
        "var_95": _quantile_of_sorted(ordered, 1.0 - VAR_LEVEL),
        "cvar_95": _mean(ordered[:k]),
    }


def _longest_drawdown_days(ts: np.ndarray, dd: FloatArray) -> float:
    """The longest of _episodes' durations in days, 0.0 without an episode.

    The kernel finds it in one pass without building the episodes (tp_longest_drawdown: the
    same runs, the same int64 differences); its longest duration converted and divided gives
    the bits of the largest converted duration, as both steps keep the order. The episodes
    below are its reference.
    """
    if kernel.KERNEL is not None:
        longest = kernel.KERNEL.longest_drawdown(np.ascontiguousarray(dd), np.ascontiguousarray(ts))
        return float(np.float64(longest) / NS_PER_DAY) if longest >= 0 else 0.0
    durations = _episodes(ts, dd).duration_ns / NS_PER_DAY
    return float(np.maximum.reduce(durations)) if len(durations) else 0.0


def _drawdown_stats(ts: np.ndarray, dd: FloatArray, full: bool = True) -> dict[str, object]:
    deepest = float(np.minimum.reduce(dd))
    if not full:  # a sweep's headline: the episodes' depths and count are not kept
        return {
            "max_drawdown": deepest,
            "max_drawdown_duration_days": _longest_drawdown_days(ts, dd),
        }
    episodes = _episodes(ts, dd)
    durations = episodes.duration_ns / NS_PER_DAY
    has = len(episodes.depth) > 0
    longest = float(np.maximum.reduce(durations)) if has else 0.0
    return {
        "max_drawdown": deepest,
        "avg_drawdown": _mean(episodes.depth) if has else 0.0,
        "max_drawdown_duration_days": longest,
        "avg_drawdown_duration_days": _mean(durations) if has else 0.0,
        "n_drawdowns": len(episodes.depth),
    }


def _benchmark_stats(
    day_last: np.ndarray, rets: FloatArray, benchmark: FloatArray | None, rf: float, ppy: float
) -> dict[str, object]:
    if benchmark is None:
        return {"buy_and_hold_return": None, "alpha": None, "beta": None}
    bench_rets = _daily_returns(benchmark, day_last)
    alpha, beta = alpha_beta(rets, bench_rets, rf, ppy)
    return {"buy_and_hold_return": _buy_and_hold_return(benchmark), "alpha": alpha, "beta": beta}


def _buy_and_hold_return(benchmark: FloatArray | None) -> float | None:
    if benchmark is None:
        return None
    return _ratio(float(benchmark[-1]), float(benchmark[0])) - 1.0


def _mean_or_nan(x: np.ndarray) -> float:
    return _mean(x) if len(x) else math.nan


def _trade_counts(pnl: FloatArray, full: bool = True) -> dict[str, object]:
    n = len(pnl)
    win = pnl > 0
    wins = int(np.count_nonzero(win))
    win_rate = wins / n if n else math.nan
    if not full:
        return {"n_trades": n, "win_rate": win_rate}
    loss = pnl < 0
    losses = int(np.count_nonzero(loss))
    return {
        "n_trades": n,
        "n_wins": wins,
        "n_losses": losses,
        "n_breakeven": n - wins - losses,
        "win_rate": win_rate,
        "loss_rate": losses / n if n else math.nan,
        # np.sign(pnl) == 1 is pnl > 0 (and -1 is pnl < 0): a NaN P&L is neither.
        "max_consecutive_wins": _longest_run(win),
        "max_consecutive_losses": _longest_run(loss),
    }


def _trade_stats(
    pnl: FloatArray, ret: FloatArray, bars: FloatArray, duration_ns: FloatArray, full: bool = True
) -> dict[str, object]:
    if not full:
        return {
            **_trade_counts(pnl, full),
            "profit_factor": profit_factor(pnl),
            "expectancy_return": _mean_or_nan(ret),
            "sqn": sqn(pnl),
        }
    has = len(pnl) > 0
    # Each mask and subset once (the same elements in the same order, so the same sums).
    win, loss = pnl > 0, pnl < 0
    win_pnl, loss_pnl = pnl[win], pnl[loss]
    return {
        **_trade_counts(pnl, full),
        "best_trade": float(np.maximum.reduce(ret)) if has else math.nan,
        "worst_trade": float(np.minimum.reduce(ret)) if has else math.nan,
        "avg_trade_return": _mean_or_nan(ret),
        "avg_win": _mean_or_nan(win_pnl),
        "avg_loss": _mean_or_nan(loss_pnl),
        "avg_win_return": _mean_or_nan(ret[win]),
        "avg_loss_return": _mean_or_nan(ret[loss]),
        "profit_factor": _profit_factor(win_pnl, loss_pnl),
        "expectancy": _mean_or_nan(pnl),
        "expectancy_return": _mean_or_nan(ret),
        "sqn": sqn(pnl),
        "kelly_criterion": kelly_criterion(ret),
        "avg_trade_bars": _mean_or_nan(bars),
        "max_trade_bars": int(np.maximum.reduce(bars)) if has else None,
        "avg_trade_duration_days": _mean_or_nan(duration_ns) / NS_PER_DAY,
        "max_trade_duration_days": float(np.maximum.reduce(duration_ns)) / NS_PER_DAY
        if has
        else math.nan,
    }


def compute_statistics(
    *,
    timestamps: np.ndarray,
    equity: np.ndarray,
    exposure: np.ndarray,
    trade_pnl: np.ndarray,
    trade_return: np.ndarray,
    trade_bars: np.ndarray,
    trade_duration_ns: np.ndarray,
    benchmark_close: np.ndarray | None = None,
    risk_free_rate: float = 0.0,
    periods_per_year: float | None = None,
    full: bool = True,
) -> dict[str, StatValue]:
    """All statistics of one backtest as a flat, JSON-friendly dict (NaN/inf -> None).

    Inputs: per bar ``timestamps`` (int64 ns UTC, strictly increasing), mark-to-market
    ``equity``, ``exposure`` (fraction of equity in positions) and optional
    ``benchmark_close``; per counted trade ``trade_pnl`` (cash), ``trade_return`` (fraction),
    ``trade_bars`` and ``trade_duration_ns``. ``risk_free_rate`` is annual;
    ``periods_per_year`` defaults to ``infer_periods_per_year``. Keys and formulas:
    docs/metrics.md. Raises ValueError on mismatched or malformed arrays.

    ``full=False`` returns only the ``HEADLINE_STATISTICS`` keys (what a parameter sweep
    keeps) and skips computing most of the others; every key it returns has the full run's
    value.
    """
    ts, calendar = _calendar(timestamps)
    eq, expo = _as_float(equity, "equity"), _as_float(exposure, "exposure")
    bench = None if benchmark_close is None else _as_float(benchmark_close, "benchmark_close")
    _check_same_length(
        timestamps=ts, equity=eq, exposure=expo, **({} if bench is None else {"benchmark": bench})
    )
    trades = [
        _as_float(a, n)
        for a, n in (
            (trade_pnl, "trade_pnl"),
            (trade_return, "trade_return"),
            (trade_bars, "trade_bars"),
            (trade_duration_ns, "trade_duration_ns"),
        )
    ]
    _check_same_length(**dict(zip(("pnl", "return", "bars", "duration_ns"), trades, strict=True)))
    # Validated once above; the calendar (day ends) and the drawdown series are computed once
    # and shared, which is what keeps this fast on a million bars.
    day_last, day_numbers = calendar.day_last, calendar.day_numbers
    ppy = float(periods_per_year or calendar.inferred_ppy)
    rets = _daily_returns(eq, day_last)
    dd = drawdown_series(eq)
    # Same keys in the same order as ever; full=False only leaves the detail out.
    months = _months(day_numbers) if full else None
    stats: dict[str, object] = {
        **_overview(ts, eq, expo, len(day_last), full),
        "periods_per_year": ppy,
        "risk_free_rate": risk_free_rate,
        **_return_stats(ts, eq, rets, risk_free_rate, ppy, float(np.minimum.reduce(dd))),
        **(_tail_stats(rets) if full else {}),
        **_drawdown_stats(ts, dd, full),
        **(
            _benchmark_stats(day_last, rets, bench, risk_free_rate, ppy)
            if full
            else {"buy_and_hold_return": _buy_and_hold_return(bench)}
        ),
        **_trade_stats(trades[0], trades[1], trades[2], trades[3], full),
    }
    if months is not None:
        stats["monthly_returns"] = _period_returns(eq, months, day_last, "M")
        stats["yearly_returns"] = _period_returns(eq, months, day_last, "Y")
    return {key: _clean(value) for key, value in stats.items() if full or key in _HEADLINE}
