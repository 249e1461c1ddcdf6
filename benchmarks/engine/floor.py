"""The compiled floor: the benchmark's strategy as one tight numba loop.

No object model, no orders, no results beyond the final equity: the lower bound on what an
engine could cost for this logic on this machine. It trades exactly like the other contenders
(see contenders.py): a cross up of SMA(fast) over SMA(slow) at bar i's close buys at bar i+1's
open the most whole shares whose cost plus commission fits in ``share`` of the equity (marked
at that open), a cross down sells the position at the next open, and the final equity marks
what is still held at the last close.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import numpy as np

try:
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - depends on the environment
    HAVE_NUMBA = False

BUY, SELL, NOTHING = 1, -1, 0


def sma_cross_portfolio(
    open_: np.ndarray,
    close: np.ndarray,
    fast: int,
    slow: int,
    share: float,
    cash0: float,
    fee: float,
) -> float:
    """(n_symbols, n_bars) prices in; the final equity out."""
    n_sym, n = close.shape
    cash = cash0
    units = np.zeros(n_sym)
    pending = np.zeros(n_sym, dtype=np.int64)  # decided at the previous close
    sum_f = np.zeros(n_sym)
    sum_s = np.zeros(n_sym)
    prev_f = np.full(n_sym, np.nan)
    prev_s = np.full(n_sym, np.nan)
    for i in range(n):
        for k in range(n_sym):  # fills at this bar's open, in symbol (submit) order
            if pending[k] == NOTHING:
                continue
            px = open_[k, i]
            if pending[k] == SELL:
                if units[k] > 0.0:
                    cash += units[k] * px - fee * (units[k] * px)
                    units[k] = 0.0
            else:
                equity = cash
                for j in range(n_sym):
                    if units[j] != 0.0:
                        equity += units[j] * open_[j, i]
                budget = share * equity
                lots = math.floor(budget / (px * (1.0 + fee)))
                # The quotient is rounded: settle on the lot count whose cost fits exactly.
                if (lots + 1) * px + fee * ((lots + 1) * px) <= budget:
                    lots += 1
                elif lots > 0 and lots * px + fee * (lots * px) > budget:
                    lots -= 1
                cost = lots * px + fee * (lots * px)
                if lots > 0 and cost <= cash + 1e-9 * max(abs(equity - fee * lots * px), 1.0):
                    cash -= cost
                    units[k] += lots
            pending[k] = NOTHING
        for k in range(n_sym):  # decisions at this bar's close
            c = close[k, i]
            sum_f[k] += c
            sum_s[k] += c
            if i >= fast:
                sum_f[k] -= close[k, i - fast]
            if i >= slow:
                sum_s[k] -= close[k, i - slow]
            f = sum_f[k] / fast if i >= fast - 1 else np.nan
            s = sum_s[k] / slow if i >= slow - 1 else np.nan
            if prev_f[k] <= prev_s[k] and f > s:  # NaN compares False: no cross before both
                pending[k] = BUY
            elif prev_f[k] >= prev_s[k] and f < s:
                pending[k] = SELL
            prev_f[k], prev_s[k] = f, s
    equity = cash
    for k in range(n_sym):
        equity += units[k] * close[k, n - 1]
    return equity


@cache
def floor_function() -> tuple[str, Callable[..., float]]:
    """(label, function): numba-compiled (cached on disk), or the same loop in plain Python."""
    if HAVE_NUMBA:
        return f"numba {numba.__version__}", numba.njit(cache=True)(sma_cross_portfolio)
    return "python (no numba)", sma_cross_portfolio
