"""The one ParameterSpec: value rules, declaration rules, and the grid and samples of a sweep.

Plain pytest (no Django): `pytest tests/strategies/test_paramspec.py -p no:django`.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.paramspec import (
    MAX_AXIS_VALUES,
    ParameterDeclarationError,
    ParameterSpace,
    ParameterSpec,
    ParameterValueError,
)

STEPS = (0.01, 0.05, 0.1, 0.25, 0.3, 0.5, 1.0, 2.5)


@st.composite
def int_specs(draw: st.DrawFn) -> ParameterSpec:
    low = draw(st.integers(-1_000, 1_000))
    high = low + draw(st.integers(0, 400))
    default = draw(st.integers(low, high))
    step = draw(st.none() | st.integers(1, 50))
    bounded = draw(st.booleans())
    return ParameterSpec.declare(
        "n", default, min=low if bounded else None, max=high if bounded else None, step=step
    )


@st.composite
def float_specs(draw: st.DrawFn) -> ParameterSpec:
    low = draw(st.integers(-10_000, 10_000)) / 100
    step = draw(st.sampled_from(STEPS))
    high = round(low + step * draw(st.integers(0, 300)) + draw(st.sampled_from((0, 0.003))), 4)
    default = round(low + (high - low) * draw(st.floats(0, 1)), 6)
    default = min(max(default, low), high)
    return ParameterSpec.declare(
        "x", default, min=low, max=high, step=draw(st.sampled_from((None, step)))
    )


@st.composite
def choice_specs(draw: st.DrawFn) -> ParameterSpec:
    values = draw(
        st.lists(st.integers(-50, 50), min_size=1, max_size=8, unique=True)
        | st.lists(st.text(max_size=5), min_size=1, max_size=8, unique=True)
        | st.lists(
            st.floats(-100, 100, allow_nan=False, allow_infinity=False),
            min_size=1,
            max_size=8,
            unique=True,
        )
    )
    return ParameterSpec.declare("c", draw(st.sampled_from(values)), choices=values)


plain_specs = st.builds(lambda b: ParameterSpec.declare("b", b), st.booleans()) | st.builds(
    lambda s: ParameterSpec.declare("s", s), st.text(max_size=10)
)
any_spec = int_specs() | float_specs() | choice_specs() | plain_specs


@st.composite
def spaces(draw: st.DrawFn) -> ParameterSpace:
    specs = draw(st.lists(any_spec, min_size=0, max_size=4))
    named = tuple(spec.named(f"p{i}") for i, spec in enumerate(specs))
    space = ParameterSpace(named)
    # Keep each example small enough to list whole.
    return space if space.grid_size() <= 5_000 else ParameterSpace(named[:1])


def _passes(space: ParameterSpace, point: dict[str, Any]) -> bool:
    resolution = space.resolve(point)
    return resolution.ok and resolution.values == point


@settings(max_examples=150, deadline=None)
@given(spaces())
def test_every_grid_point_passes_the_specs_own_validation(space: ParameterSpace) -> None:
    points = list(space.grid())
    assert len(points) == space.grid_size()
    assert all(_passes(space, point) for point in points)
    assert len({tuple(sorted(map(repr, p.items()))) for p in points}) == len(points)


@settings(max_examples=150, deadline=None)
@given(spaces(), st.integers(0, 2**32), st.integers(0, 30))
def test_every_sample_passes_the_specs_own_validation(
    space: ParameterSpace, seed: int, n: int
) -> None:
    samples = space.sample(n, seed)
    assert len(samples) == n
    assert all(_passes(space, point) for point in samples)


@settings(max_examples=100, deadline=None)
@given(spaces(), st.integers(0, 2**32))
def test_the_same_seed_draws_the_same_samples(space: ParameterSpace, seed: int) -> None:
    assert space.sample(20, seed) == space.sample(20, seed)


@settings(max_examples=100, deadline=None)
@given(int_specs() | float_specs())
def test_stepped_values_lie_on_the_step_grid_within_the_bounds(spec: ParameterSpec) -> None:
    for value in spec.values():
        assert spec.min is None or spec.min <= value  # type: ignore[operator]
        assert spec.max is None or value <= spec.max  # type: ignore[operator]
        # Without both bounds there is no axis: the default stands alone, on a step or not.
        assert spec.step is None or spec.max is None or spec.on_step(value)


SPACE = ParameterSpace(
    (
        ParameterSpec.declare("period", 3, min=1, max=9, step=2),  # 1, 3, 5, 7, 9
        ParameterSpec.declare("width", 0.5, min=0.1, max=1.0, step=0.1),  # 10 values
        ParameterSpec.declare("long_only", True),  # False, True
        ParameterSpec.declare("mode", "a", choices=("a", "b", "c")),
        ParameterSpec.declare("label", "run"),  # no axis: stays at its default
        ParameterSpec.declare("lookback", 20, min=5),  # no max, no step: stays too
    )
)


def test_the_grid_is_the_cartesian_product_of_every_axis() -> None:
    assert SPACE.grid_size() == 5 * 10 * 2 * 3 == 300
    points = list(SPACE.grid())
    assert len(points) == 300
    assert points[0] == {"period": 1, "width": 0.1, "long_only": False, "mode": "a",
                         "label": "run", "lookback": 20}  # fmt: skip
    assert {p["label"] for p in points} == {"run"} and {p["lookback"] for p in points} == {20}


def test_float_steps_land_on_the_written_decimals() -> None:
    assert SPACE.specs[1].values() == (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    # A max off the grid is not reached: the last step below it is the end.
    assert ParameterSpec.declare("x", 0.0, min=0.0, max=1.0, step=0.3).values() == (
        0.0, 0.3, 0.6, 0.9,
    )  # fmt: skip


def test_samples_keep_each_parameters_type() -> None:
    space = ParameterSpace(
        (
            ParameterSpec.declare("i", 5, min=0, max=10),
            ParameterSpec.declare("f", 2.0, min=0.0, max=10.0),
            ParameterSpec.declare("b", False),
            ParameterSpec.declare("c", 1.0, choices=[0.5, 1, 2]),
            ParameterSpec.declare("s", "x", choices=["x", "y"]),
        )
    )
    for point in space.sample(200, seed=7):
        assert type(point["i"]) is int and 0 <= point["i"] <= 10
        assert type(point["f"]) is float and 0.0 <= point["f"] <= 10.0
        assert type(point["b"]) is bool
        assert point["c"] in (0.5, 1.0, 2.0) and type(point["c"]) is float
        assert point["s"] in ("x", "y")
    assert {p["b"] for p in space.sample(200, seed=7)} == {False, True}


def test_different_seeds_draw_different_samples() -> None:
    assert SPACE.sample(10, seed=1) != SPACE.sample(10, seed=2)


def test_an_axis_too_long_to_list_is_refused() -> None:
    spec = ParameterSpec.declare("n", 0, min=0, max=MAX_AXIS_VALUES * 10, step=1)
    assert spec.axis_length() == MAX_AXIS_VALUES * 10 + 1
    with pytest.raises(ValueError, match="values on its grid"):
        spec.values()


@pytest.mark.parametrize(
    ("default", "value", "rule"),
    [
        (10, True, "type"),  # a checkbox is no period length
        (10, 2.5, "type"),
        (10, 4.0, "type"),  # JSON as written: only the engine's callers may say 4.0
        (1.0, float("nan"), "type"),
        (1.0, float("inf"), "type"),
        (1.0, False, "type"),
        (True, 1, "type"),
        ("a", 1, "type"),
    ],
)
def test_values_of_the_wrong_type_break_the_type_rule(default: Any, value: Any, rule: str) -> None:
    with pytest.raises(ParameterValueError) as caught:
        ParameterSpec.declare("p", default).validate(value)
    assert caught.value.rule == rule


def test_values_are_typed_and_checked_against_choices_and_bounds() -> None:
    spec = ParameterSpec.declare("fast", 10, min=2, max=200)
    assert spec.validate(4.0, integral_floats=True) == 4
    assert type(spec.validate(4.0, integral_floats=True)) is int
    assert ParameterSpec.declare("r", 0.5).validate(1) == 1.0
    with pytest.raises(ParameterValueError, match="below its minimum 2") as caught:
        spec.validate(1)
    assert caught.value.rule == "min"
    with pytest.raises(ParameterValueError, match="above its maximum 200"):
        spec.validate(201)
    with pytest.raises(ParameterValueError, match=r"is not one of \('a', 'b'\)"):
        ParameterSpec.declare("m", "a", choices=["a", "b"]).validate("c")


def test_a_declaration_lists_every_problem() -> None:
    with pytest.raises(ParameterDeclarationError) as caught:
        ParameterSpec.declare("p", 10, min=20, max=5, step=0)
    assert caught.value.problems == [
        "min (20) is greater than max (5)",
        "the default (10) is below min (20)",
        "the default (10) is above max (5)",
        "step must be greater than 0 (got 0)",
    ]
    with pytest.raises(ParameterDeclarationError, match="finite int, float, bool or str"):
        ParameterSpec.declare("p", math.nan)


def test_a_stored_spec_reads_back_as_the_same_spec() -> None:
    for spec in SPACE.specs:
        assert ParameterSpec.from_dict(spec.to_dict()) == spec
    stored = {"name": "r", "type": "float", "default": 1, "choices": [1.0, 2.0]}
    assert ParameterSpec.from_dict(stored) == ParameterSpec("r", "float", 1.0, choices=(1.0, 2.0))


def test_resolving_lists_unknown_names_and_every_broken_value() -> None:
    resolution = SPACE.resolve({"zzz": 1, "period": 0, "width": "wide", "aaa": 2})
    assert resolution.unknown == ["zzz", "aaa"]
    assert {name: e.rule for name, e in resolution.errors.items()} == {
        "period": "min", "width": "type",
    }  # fmt: skip
    assert resolution.values["mode"] == "a" and not resolution.ok
