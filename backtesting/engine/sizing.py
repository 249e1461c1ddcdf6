"""Turning an order's size request into whole lots, costs included."""

from __future__ import annotations

import math

from backtesting.engine.spec import CostModel

# Relative slack when comparing money in the broker's margin check: equity and exposure are
# summed in different orders there, and rejecting an order for that float noise would be wrong.
# Sizing does not use it: a size is accepted only if its cost fits exactly.
MONEY_EPS = 1e-9


def floor_to_step(units: float, step: float) -> float:
    """The largest multiple of ``step`` that is <= ``units`` (>= 0); step 0 means continuous."""
    q = units / step if step > 0.0 else math.inf
    if not math.isfinite(q):
        return units  # continuous, or a step too fine to count in floats
    n = math.floor(q)
    # The quotient is rounded: 0.003 / 0.001 = 2.9999999999999996 although 3 * 0.001 == 0.003,
    # and it can round up across a whole number as well. Settle on the product we hand out.
    if (n + 1) * step <= units:
        n += 1
    elif n > 0 and n * step > units:
        n -= 1
    return n * step


def units_for_value(value: float, price: float, costs: CostModel, step: float) -> float:
    """Most units whose cost (units * price + commission) fits in ``value`` (>= 0).

    The cost is checked with the broker's own arithmetic, so a fill never takes more cash than
    ``value``, not even by float noise (no tolerance: an overdraft of 5e-8 is still one).
    """
    if value <= 0.0 or price <= 0.0:
        return 0.0
    # CostModel.commission inline: this runs once per order on the array path.
    fixed, pct, least = costs.commission_fixed, costs.commission_pct, costs.commission_min
    units = (value - fixed) / (price * (1.0 + pct))
    notional = units * price
    fee = fixed + pct * notional
    if units > 0.0 and fee <= least:  # the minimum commission applies
        units = (value - least) / price
        notional = units * price
        fee = fixed + pct * notional
    if units <= 0.0:
        return 0.0
    if step <= 0.0:  # continuous: the estimate, or a few ulps less (inf: nothing fits)
        if notional + (fee if fee > least else least) <= value:
            return units
        return _shrink_to_fit(units, value, price, costs)
    q = units / step
    if not math.isfinite(q):  # more lots than floats can count: continuous as well
        return _shrink_to_fit(units, value, price, costs)
    n = math.floor(q)
    # The estimate is rounded twice (the division above and this one), so the lot above may
    # still fit (0.3 / 0.1 = 2.9999999999999996) and the lot below may not: test the costs.
    for lots in (n + 1, n):
        notional = lots * step * price
        fee = fixed + pct * notional
        if notional + (fee if fee > least else least) <= value:
            return lots * step
    return _largest_fitting_lots(n, value, price, costs, step) * step


def _largest_fitting_lots(
    too_many: int, value: float, price: float, costs: CostModel, step: float
) -> int:
    # Rare (the estimate is off by more than a lot) but possibly huge counts, where one lot
    # less does not change the float: search downwards with growing strides, then bisect.
    hi, stride = too_many, 1
    lo = hi - stride
    while lo > 0 and not _fits(lo * step, value, price, costs):
        hi, stride = lo, stride * 2
        lo = hi - stride
    lo = max(lo, 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if _fits(mid * step, value, price, costs) else (lo, mid)
    return lo


def _fits(units: float, value: float, price: float, costs: CostModel) -> bool:
    notional = units * price
    return notional + costs.commission(notional) <= value


def _shrink_to_fit(units: float, value: float, price: float, costs: CostModel) -> float:
    # The estimate's cost lands within a few ulps of the value, above it about half the time;
    # then step down by a growing amount.
    delta = math.ulp(units)
    while units > 0.0:
        units -= delta
        delta *= 2.0
        if _fits(units, value, price, costs):
            return units
    return 0.0
