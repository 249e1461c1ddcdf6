"""Sweep planning without a database: the issue's grid count, seeded random plans whatever the
constraints reject, ranges held within the declared bounds."""

from __future__ import annotations

import pytest

from backtesting.engine.research.constraints import take_satisfying
from backtesting.optimization.space import grid_plan, random_plan, sweep_space
from strategies.paramspec import ParameterSpace, ParameterSpec
from tradeplatform.errors import DomainValidationError

DECLARED = ParameterSpace(
    (
        ParameterSpec.declare("fast", 10, min=2, max=200, step=1),
        ParameterSpec.declare("slow", 30, min=5, max=400, step=1),
    )
)
WIDE = {"fast": {"min": 2, "max": 100, "step": 1}, "slow": {"min": 10, "max": 400, "step": 1}}


def test_the_issue_grid_has_90_combinations_with_fast_below_slow():
    ranges = {"fast": {"min": 5, "max": 50, "step": 5}, "slow": {"min": 20, "max": 200, "step": 20}}
    plan = grid_plan(sweep_space(DECLARED, ranges, {}, ["fast < slow"]), 5_000)
    assert len(plan) == 90 and plan[0] == {"fast": 5, "slow": 20}


@pytest.mark.parametrize("constraint", ["fast < slow", "slow - fast < 4"])
def test_a_random_plan_is_the_first_seeded_draws_that_satisfy_the_constraints(constraint):
    space = sweep_space(DECLARED, WIDE, {}, [constraint])
    plan = random_plan(space, 60, 1, 5_000)
    longest = take_satisfying(space.axes.sample(60 * 50, 1), [space.allows], 60)
    assert plan == [dict(p) for p in longest]
    assert plan != random_plan(space, 60, 2, 5_000)


def test_ranges_outside_the_declared_bounds_or_fractional_ints_are_refused():
    for bad in ({"min": 1, "max": 10, "step": 1}, {"min": 2, "max": 10, "step": 0.5}):
        with pytest.raises(DomainValidationError) as caught:
            sweep_space(DECLARED, {"fast": bad}, {}, [])
        assert "fast" in caught.value.details["space"]
