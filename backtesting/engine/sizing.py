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
    if step <= 0.0:
        return units
    n = math.floor(units / step)
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
    units = (value - costs.commission_fixed) / (price * (1.0 + costs.commission_pct))
    if units > 0.0 and costs.commission(units * price) <= costs.commission_min:
        units = (value - costs.commission_min) / price
    if units <= 0.0:
        return 0.0
    if step <= 0.0:
        return _shrink_to_fit(units, value, price, costs)
    n = math.floor(units / step)
    # The estimate is rounded twice (the division above and this one), so the lot above may
    # still fit (0.3 / 0.1 = 2.9999999999999996) and the lot below may not: test the costs.
    if _fits((n + 1) * step, value, price, costs):
        return (n + 1) * step
    while n > 0 and not _fits(n * step, value, price, costs):
        n -= 1
    return n * step


def _fits(units: float, value: float, price: float, costs: CostModel) -> bool:
    notional = units * price
    return notional + costs.commission(notional) <= value


def _shrink_to_fit(units: float, value: float, price: float, costs: CostModel) -> float:
    # A continuous size overshoots by a few ulps at most; step down by a growing amount.
    delta = math.ulp(units)
    while units > 0.0 and not _fits(units, value, price, costs):
        units -= delta
        delta *= 2.0
    return max(units, 0.0)
