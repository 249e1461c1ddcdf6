"""The compiled floor: the same SMA crossover as one tight numba loop (NumPy if no numba).

No object model, no orders, no results beyond the equity curve: the lower bound on what an
engine could cost for this logic on this machine.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np

try:
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - depends on the environment
    HAVE_NUMBA = False


def _sma_cross_portfolio(
    open_: np.ndarray, close: np.ndarray, fast: int, slow: int, cash0: float, fee: float
) -> np.ndarray:
    n_sym, n = close.shape
    share = 1.0 / n_sym
    cash = cash0
    units = np.zeros(n_sym)
    want = np.zeros(n_sym)  # target decided at the previous close
    sum_f = np.zeros(n_sym)
    sum_s = np.zeros(n_sym)
    was_up = np.zeros(n_sym, dtype=np.bool_)
    equity = np.empty(n)
    for i in range(n):
        for k in range(n_sym):  # fills at this bar's open for last bar's decisions
            px = open_[k, i]
            if want[k] > 0.0 and units[k] == 0.0:
                eq = cash
                for j in range(n_sym):
                    eq += units[j] * open_[j, i]
                u = min(share * eq, cash) / (px * (1.0 + fee))
                cash -= u * px * (1.0 + fee)
                units[k] = u
            elif want[k] == 0.0 and units[k] > 0.0:
                cash += units[k] * px * (1.0 - fee)
                units[k] = 0.0
        value = cash
        for k in range(n_sym):  # decisions at this bar's close
            c = close[k, i]
            value += units[k] * c
            sum_f[k] += c
            sum_s[k] += c
            if i >= fast:
                sum_f[k] -= close[k, i - fast]
            if i >= slow:
                sum_s[k] -= close[k, i - slow]
            if i >= slow - 1:
                up = sum_f[k] / fast > sum_s[k] / slow
                if up and not was_up[k]:
                    want[k] = 1.0
                elif not up and was_up[k]:
                    want[k] = 0.0
                was_up[k] = up
        equity[i] = value
    return equity


def _numpy_floor(
    open_: np.ndarray, close: np.ndarray, fast: int, slow: int, cash0: float, fee: float
) -> np.ndarray:
    """Loop-free NumPy version for one instrument: equity compounds trade by trade."""
    c, o = close[0], open_[0]
    cs = np.cumsum(np.r_[0.0, c])
    f = (cs[fast:] - cs[:-fast]) / fast
    s = (cs[slow:] - cs[:-slow]) / slow
    up = np.zeros(len(c), dtype=bool)
    up[slow - 1 :] = f[slow - fast :] > s
    held = np.r_[False, up[:-1]]  # position during bar i decided at close i-1, filled at open i
    entry = held & ~np.r_[False, held[:-1]]
    exit_ = ~held & np.r_[False, held[:-1]]
    growth = np.ones(len(c))
    growth[entry] = c[entry] / (o[entry] * (1 + fee))
    cont = held & ~entry
    prev_c = np.r_[c[0], c[:-1]]
    growth[cont] = c[cont] / prev_c[cont]
    growth[exit_] = o[exit_] * (1 - fee) / prev_c[exit_]
    return cash0 * np.cumprod(growth)


@cache
def floor_function() -> tuple[str, Callable[..., np.ndarray]]:
    if HAVE_NUMBA:
        return f"numba {numba.__version__}", numba.njit(cache=False)(_sma_cross_portfolio)
    return "numpy", _numpy_floor
