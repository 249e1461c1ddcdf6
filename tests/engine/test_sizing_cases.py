"""Sizing worked out by hand from its documented rules (docs/backtests.md, CostModel).

A size is the most whole lots (or, with step 0, units) whose cost ``units * price + commission``
fits in the value, where commission = max(fixed + pct * notional, minimum). Every expected figure
below is computed from that rule, not read off the code.
"""

from __future__ import annotations

import math

import pytest

from backtesting.engine import CostModel
from backtesting.engine.sizing import floor_to_step, units_for_value

NO_COSTS = CostModel()


def _cost(units: float, price: float, costs: CostModel) -> float:
    notional = units * price
    return notional + costs.commission(notional)


@pytest.mark.parametrize(
    ("units", "step", "expected"),
    [
        (7.9, 1.0, 7.0),
        (7.0, 1.0, 7.0),  # an exact multiple is kept
        (0.999, 1.0, 0.0),
        (12.0, 5.0, 10.0),
        (2.5, 0.0, 2.5),  # step 0: continuous, untouched
        (0.003, 0.001, 0.003),  # 0.003 / 0.001 rounds to 2.9999999999999996; 3 * 0.001 fits
        # 0.3 / 0.1 is 2.9999999999999996 as well, but 3 * 0.1 = 0.30000000000000004 > 0.3.
        (0.3, 0.1, 0.2),
        (1e300, 1e-300, 1e300),  # too many steps to count: continuous
    ],
)
def test_floor_to_step_is_the_largest_multiple_not_above(
    units: float, step: float, expected: float
) -> None:
    assert floor_to_step(units, step) == expected


@pytest.mark.parametrize("step", [0.1, 0.01, 0.001, 0.25, 3.0])
def test_floor_to_step_matches_counting_the_steps(step: float) -> None:
    # Near every whole number of steps, from both sides: the answer is the largest n * step
    # (as the float product handed out) that is <= units.
    for k in range(1, 60):
        for units in (k * step, math.nextafter(k * step, 0.0), math.nextafter(k * step, math.inf)):
            n = max(n for n in range(k + 2) if n * step <= units)
            assert floor_to_step(units, step) == n * step, (units, step)


@pytest.mark.parametrize(
    ("value", "price", "costs", "step", "expected"),
    [
        (1000.0, 100.0, NO_COSTS, 1.0, 10.0),
        (1099.0, 100.0, NO_COSTS, 1.0, 10.0),
        (1000.0, 100.0, NO_COSTS, 0.0, 10.0),
        (1050.0, 100.0, NO_COSTS, 0.0, 10.5),
        (1050.0, 100.0, NO_COSTS, 0.5, 10.5),
        (99.0, 100.0, NO_COSTS, 1.0, 0.0),  # not one lot
        # 1 %: 10 units cost 1000 + 10 = 1010.
        (1010.0, 100.0, CostModel(commission_pct=0.01), 1.0, 10.0),
        (1009.99, 100.0, CostModel(commission_pct=0.01), 1.0, 9.0),
        (1010.0, 100.0, CostModel(commission_pct=0.01), 0.0, 10.0),
        # A fixed fee of 5: 10 units cost 1005.
        (1005.0, 100.0, CostModel(commission_fixed=5.0), 1.0, 10.0),
        (1004.99, 100.0, CostModel(commission_fixed=5.0), 1.0, 9.0),
        (1005.0, 100.0, CostModel(commission_fixed=5.0), 0.0, 10.0),
        # Fixed 5 and 1 %: 10 units cost 1000 + 5 + 10 = 1015; the estimate is (v - 5) / 101.
        (1015.0, 100.0, CostModel(commission_fixed=5.0, commission_pct=0.01), 1.0, 10.0),
        (1014.0, 100.0, CostModel(commission_fixed=5.0, commission_pct=0.01), 1.0, 9.0),
        # A minimum of 20 above 0.1 % of 1000: 10 units cost 1020, 9 cost 920.
        (1020.0, 100.0, CostModel(commission_pct=0.001, commission_min=20.0), 1.0, 10.0),
        (1019.99, 100.0, CostModel(commission_pct=0.001, commission_min=20.0), 1.0, 9.0),
        (1020.0, 100.0, CostModel(commission_pct=0.001, commission_min=20.0), 0.0, 10.0),
        (1020.0, 100.0, CostModel(commission_min=20.0), 0.5, 10.0),
        # The minimum is charged even when it leaves nothing to buy.
        (20.0, 100.0, CostModel(commission_min=20.0), 0.0, 0.0),
        (50.0, 100.0, CostModel(commission_min=20.0), 0.1, 0.3),
        # A minimum below the percentage fee does not apply: 10 units cost 1010.
        (1010.0, 100.0, CostModel(commission_pct=0.01, commission_min=5.0), 1.0, 10.0),
        (1009.0, 100.0, CostModel(commission_pct=0.01, commission_min=5.0), 1.0, 9.0),
        # Nothing to spend, or nothing to buy with it.
        (0.0, 100.0, NO_COSTS, 1.0, 0.0),
        (-5.0, 100.0, NO_COSTS, 0.0, 0.0),
        (1000.0, 0.0, NO_COSTS, 1.0, 0.0),
        (1000.0, -1.0, NO_COSTS, 0.0, 0.0),
        (4.0, 1.0, CostModel(commission_fixed=5.0), 0.0, 0.0),  # the fee alone is too much
        (4.0, 1.0, CostModel(commission_fixed=5.0), 1.0, 0.0),
    ],
)
def test_units_for_value_buys_the_most_that_fits(
    value: float, price: float, costs: CostModel, step: float, expected: float
) -> None:
    assert units_for_value(value, price, costs, step) == pytest.approx(expected, rel=1e-12, abs=0)


COST_MODELS = [
    NO_COSTS,
    CostModel(commission_pct=0.002),
    CostModel(commission_fixed=1.5, commission_pct=0.0007),
    CostModel(commission_pct=0.001, commission_min=7.0),
    CostModel(commission_fixed=0.3, commission_pct=0.0025, commission_min=2.0),
]


@pytest.mark.parametrize("costs", COST_MODELS)
@pytest.mark.parametrize("step", [1.0, 0.01, 0.001, 5.0])
def test_whole_lots_fit_and_one_more_lot_does_not(costs: CostModel, step: float) -> None:
    for value in (37.0, 999.99, 1234.5678, 10_000.0, 98_765.4321):
        for price in (0.37, 3.0, 17.23, 101.1, 2500.0):
            units = units_for_value(value, price, costs, step)
            lots = round(units / step)
            assert units == lots * step
            if lots:
                assert _cost(units, price, costs) <= value
            assert _cost((lots + 1) * step, price, costs) > value, (value, price)


@pytest.mark.parametrize("costs", COST_MODELS)
def test_continuous_size_fits_and_is_within_a_few_ulps_of_the_exact_size(
    costs: CostModel,
) -> None:
    for value in (37.0, 999.99, 1234.5678, 10_000.0, 98_765.4321, 0.1 + 0.2):
        for price in (0.37, 3.0, 17.23, 101.1, 2500.0, 1 / 3):
            units = units_for_value(value, price, costs, 0.0)
            if units == 0.0:
                assert _cost(1e-9, price, costs) > value or value <= costs.commission_min
                continue
            assert _cost(units, price, costs) <= value
            # The exact size, solved from the cost rule for the branch of the commission.
            exact = (value - costs.commission_fixed) / (price * (1 + costs.commission_pct))
            if costs.commission(exact * price) == costs.commission_min and costs.commission_min:
                exact = (value - costs.commission_min) / price
            assert units == pytest.approx(exact, rel=1e-12)


def test_continuous_size_steps_down_until_the_cost_fits() -> None:
    # Values where the estimate's cost lands a few ulps above the value, so sizing must step the
    # units down (never spend a ulp more than the value).
    costs = CostModel(commission_pct=0.002)
    stepped_down = 0
    for cents in range(100_000, 100_400):
        value = cents / 100.0
        price = 7.0 / 3.0
        units = units_for_value(value, price, costs, 0.0)
        assert _cost(units, price, costs) <= value
        estimate = value / (price * 1.002)
        assert units <= estimate
        assert estimate - units < 1e-9 * estimate
        stepped_down += units < estimate
    assert stepped_down > 0  # the case is exercised


@pytest.mark.parametrize(
    ("value", "price", "costs"),
    [
        (3.602880698253312e16, 3.3, CostModel(commission_fixed=1.0, commission_pct=0.001)),
        (9.694394818147422e20, 0.7, CostModel(commission_fixed=1e6, commission_pct=0.001)),
        (1.7000519338437694e23, 0.25, CostModel(commission_fixed=1e6, commission_pct=0.001)),
        (1.70005193384373e23, 0.25, CostModel(commission_pct=0.001, commission_min=5.0)),
    ],
)
def test_huge_lot_counts_are_the_largest_that_fit(
    value: float, price: float, costs: CostModel
) -> None:
    # Above 2**53 every float is a whole number, and a float estimate of the lot count can be
    # off by many lots (up to 2**26 here): the next float up must no longer fit.
    units = units_for_value(value, price, costs, 1.0)
    assert units == math.floor(units)
    assert _cost(units, price, costs) <= value
    assert _cost(math.nextafter(units, math.inf), price, costs) > value
    exact = (value - costs.commission_fixed) / (price * (1 + costs.commission_pct))
    assert units == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize(
    ("value", "price", "costs", "expected"),
    [
        (1000.0, 100.0, NO_COSTS, 10.0),
        (1050.0, 100.0, NO_COSTS, 10.5),
        (1020.0, 100.0, CostModel(commission_min=20.0), 10.0),
        (1005.0, 100.0, CostModel(commission_fixed=5.0), 10.0),
    ],
)
def test_a_continuous_size_that_fits_exactly_is_not_shrunk(
    value: float, price: float, costs: CostModel, expected: float
) -> None:
    # The exact size is a float here and its cost is exactly the value: it is the answer, not
    # a few ulps less.
    assert units_for_value(value, price, costs, 0.0) == expected
    assert _cost(expected, price, costs) == value


@pytest.mark.parametrize(
    ("value", "price", "least"),
    [(3502.12, 163.53, 7.0), (65.95, 54.51, 7.0), (129.66, 308.09, 2.5), (805.31, 2.83, 1.0)],
)
def test_a_continuous_size_under_the_minimum_commission_fits_with_the_minimum(
    value: float, price: float, least: float
) -> None:
    # (value - minimum) / price * price + minimum rounds above the value for these: the size
    # must come down until the cost with the minimum (not the smaller percentage fee) fits.
    costs = CostModel(commission_pct=0.001, commission_min=least)
    units = units_for_value(value, price, costs, 0.0)
    assert (value - least) / price * price + least > value  # the case is the rounding one
    assert units * price + least <= value
    assert units == pytest.approx((value - least) / price, rel=1e-12)


def _largest_lots(value: float, price: float, costs: CostModel, step: float, near: int) -> int:
    """The largest whole lot count whose cost fits, searched from ``near`` by definition."""
    lo, hi = near, near
    while _cost(lo * step, price, costs) > value:
        lo -= max(1, (near - lo) or 1)
    while _cost(hi * step, price, costs) <= value:
        hi += max(1, hi - near) if hi > near else 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if _cost(mid * step, price, costs) <= value else (lo, mid)
    return lo


@pytest.mark.parametrize("step", [0.5, 1.0, 3.0, 1e-3])
@pytest.mark.parametrize(
    ("value", "price", "costs"),
    [
        (3.602880698253312e16, 3.3, CostModel(commission_fixed=1.0, commission_pct=0.001)),
        (9.694394818147422e20, 0.7, CostModel(commission_fixed=1e6, commission_pct=0.001)),
        (1.7000519338437694e23, 0.25, CostModel(commission_fixed=1e6, commission_pct=0.001)),
    ],
)
def test_huge_lot_counts_match_the_largest_count_that_fits(
    value: float, price: float, costs: CostModel, step: float
) -> None:
    units = units_for_value(value, price, costs, step)
    estimate = int((value - costs.commission_fixed) / (price * (1 + costs.commission_pct)) / step)
    assert units == _largest_lots(value, price, costs, step, estimate) * step


@pytest.mark.parametrize("costs", COST_MODELS)
def test_a_step_too_fine_to_count_sizes_continuously(costs: CostModel) -> None:
    # 5e-324 (the smallest float) makes units / step infinite: the size is then continuous
    # (within an ulp of the step-0 size), and it still fits.
    value, price = 1_000.0, 3.0
    units = units_for_value(value, price, costs, 5e-324)
    assert _cost(units, price, costs) <= value
    assert units == pytest.approx(
        (value - costs.commission_fixed) / (price * (1 + costs.commission_pct))
        if costs.commission((value / price) * price) > costs.commission_min
        else (value - costs.commission_min) / price,
        rel=1e-12,
    )
