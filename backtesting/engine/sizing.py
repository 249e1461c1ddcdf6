"""Turning an order's size request into whole lots, costs included."""

from __future__ import annotations

import math

from backtesting.engine.spec import CostModel

# Relative slack when comparing money: sizes computed to spend "all available" land within a few
# ulps of the limit, and rejecting those for float noise would be wrong.
MONEY_EPS = 1e-9


def floor_to_step(units: float, step: float) -> float:
    """Round ``units`` (>= 0) down to a multiple of ``step``; step 0 means continuous."""
    if step <= 0.0:
        return units
    # The epsilon keeps 0.003 / 0.001 = 2.9999999999999996 from losing a lot to float noise.
    return math.floor(units / step + 1e-9) * step


def units_for_value(value: float, price: float, costs: CostModel, step: float) -> float:
    """Most units whose cost (units * price + commission) fits in ``value`` (>= 0)."""
    if value <= 0.0 or price <= 0.0:
        return 0.0
    units = (value - costs.commission_fixed) / (price * (1.0 + costs.commission_pct))
    if units > 0.0 and costs.commission(units * price) <= costs.commission_min:
        units = (value - costs.commission_min) / price
    if units <= 0.0:
        return 0.0
    units = floor_to_step(units, step)
    # Rounding in the division may overshoot by an ulp; step down once if it does.
    if step > 0.0 and units * price + costs.commission(units * price) > value * (1 + MONEY_EPS):
        units = max(0.0, units - step)
    return units
