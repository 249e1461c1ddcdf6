"""Sizing never spends more than asked, on both engine paths, right at the rounding boundary."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from backtesting.engine import BacktestSpec, CostModel, Strategy, run_backtest
from backtesting.engine.sizing import floor_to_step, units_for_value
from tests.engine.helpers import bars_from_rows

COSTS = CostModel(commission_pct=0.002)
PRICE = 100.0
# Cash for which the exact-arithmetic size is 54.9999999995 units: a 1e-9 tolerance before
# rounding down turns it into 55 units that cost 5e-8 more than the budget.
BUDGET = 54.9999999995 * PRICE * (1 + COSTS.commission_pct)


def _flat_bars() -> Any:
    return bars_from_rows([[PRICE, PRICE, PRICE, PRICE]] * 4)


def _event(fraction: float | None) -> type[Strategy]:
    class BuyOnce(Strategy):
        def next(self) -> None:
            if self.bar_index == 0:
                self.buy() if fraction is None else self.buy(fraction=fraction)

    return BuyOnce


def _vectorized(fraction: float | None) -> type[Strategy]:
    class TargetOnce(Strategy):
        def signals(self, data: Any) -> np.ndarray:
            return np.full(len(data.close), 1.0 if fraction is None else fraction)

    return TargetOnce


@pytest.mark.parametrize("style", [_event, _vectorized], ids=["event", "vectorized"])
@pytest.mark.parametrize(
    ("fraction", "cash"),
    [(None, BUDGET), (1.0, BUDGET), (0.9999, BUDGET / 0.9999)],
    ids=["all_available", "fraction_1", "fraction_0.9999"],
)
def test_sizing_at_the_rounding_boundary_buys_54_and_never_overdraws(
    style: Any, fraction: float | None, cash: float
) -> None:
    budget = cash if fraction is None else fraction * cash
    exact = budget / (PRICE * (1 + COSTS.commission_pct))
    assert 55 - 1e-9 < exact < 55  # the case sits right under the boundary

    spec = BacktestSpec(initial_cash=cash, costs=COSTS)
    result = run_backtest(spec, {"AAA": _flat_bars()}, style(fraction))

    (trade,) = result.trades
    assert trade["size"] == 54  # backtesting.py buys 54 here as well
    assert float(result.cash.min()) >= 0.0
    assert cash - float(result.cash[-1]) <= budget


@pytest.mark.parametrize(
    ("value", "price", "step", "units"),
    [
        (300.0, 100.0, 1.0, 3.0),  # spends exactly the value: allowed
        (0.003 * 50.0, 50.0, 0.001, 0.003),  # 0.15 / 50 / 0.001 = 2.9999999999999996 lots
        (0.3, 0.1, 1.0, 2.0),  # 3 * 0.1 == 0.30000000000000004 > 0.3 in floats: 3 would overdraw
    ],
)
def test_units_for_value_takes_the_largest_size_whose_cost_fits(
    value: float, price: float, step: float, units: float
) -> None:
    got = units_for_value(value, price, CostModel(), step)
    assert got == units
    assert got * price <= value


def test_continuous_sizing_never_costs_more_than_the_value() -> None:
    costs = CostModel(commission_pct=0.001, commission_fixed=1.0)
    rng = np.random.default_rng(7)
    for value, price in rng.uniform(10.0, 1e6, size=(2000, 2)).tolist():
        units = units_for_value(value, price, costs, 0.0)
        assert units * price + costs.commission(units * price) <= value


def test_floor_to_step_counts_whole_lots_without_exceeding_the_request() -> None:
    assert floor_to_step(0.003, 0.001) == 0.003  # 0.003 / 0.001 = 2.9999999999999996
    assert floor_to_step(54.9999999995, 1.0) == 54.0  # a tolerance would round this up
    assert floor_to_step(7.5, 2.5) == 7.5
