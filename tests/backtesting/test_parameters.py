from __future__ import annotations

import pytest

from backtesting.engine import Param, Strategy
from backtesting.engine.errors import StrategyError
from backtesting.engine.strategy import resolve_params
from backtesting.parameters import ParameterError, parameters_resolve


def _param(name: str, kind: str, default: object, **extra: object) -> dict:
    return {"name": name, "type": kind, "default": default, "min": None, "max": None,
            "step": None, "choices": None, **extra}  # fmt: skip


DECLARED = [
    _param("fast", "int", 10, min=2, max=200, step=1),
    _param("ratio", "float", 0.5, min=0.0, max=1.0),
    _param("long_only", "bool", True),
    _param("mode", "str", "a", choices=["a", "b"]),
]


def test_missing_parameters_take_their_declared_defaults() -> None:
    assert parameters_resolve(DECLARED, {"fast": 20}) == {
        "fast": 20, "ratio": 0.5, "long_only": True, "mode": "a"
    }  # fmt: skip


def test_an_int_for_a_float_parameter_is_stored_as_a_float() -> None:
    assert parameters_resolve(DECLARED, {"ratio": 1})["ratio"] == 1.0


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ({"fast": 1}, "fast"),
        ({"fast": 201}, "fast"),
        ({"fast": 2.5}, "fast"),
        ({"fast": True}, "fast"),
        ({"ratio": float("nan")}, "ratio"),
        ({"long_only": 1}, "long_only"),
        ({"mode": "c"}, "mode"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_values_of_the_wrong_type_or_out_of_range_are_refused(given: dict, name: str) -> None:
    with pytest.raises(ParameterError) as caught:
        parameters_resolve(DECLARED, given)
    assert name in caught.value.details["parameters"]


def test_a_text_parameter_too_long_to_store_is_refused() -> None:
    declared = [_param("label", "str", "")]
    assert parameters_resolve(declared, {"label": "x" * 1000}) == {"label": "x" * 1000}
    with pytest.raises(ParameterError) as caught:
        parameters_resolve(declared, {"label": "x" * 25_000})
    assert "1,000 characters" in caught.value.details["parameters"]["label"]


def test_unknown_parameter_names_are_echoed_bounded() -> None:
    given = {f"{i}-" + "n" * 10_000: 1 for i in range(1_000)}
    with pytest.raises(ParameterError) as caught:
        parameters_resolve(DECLARED, given)
    echoed = caught.value.details["parameters"]
    assert 0 < len(echoed) <= 50 and all(len(name) <= 100 for name in echoed)


class Declared(Strategy):
    """The engine's side of DECLARED."""

    fast = Param(10, min=2, max=200, step=1)
    ratio = Param(0.5, min=0.0, max=1.0)
    long_only = Param(True)
    mode = Param("a", choices=["a", "b"])


@pytest.mark.parametrize(
    "given",
    [
        {"fast": 20},
        {"fast": 1},
        {"fast": True},
        {"fast": 2.5},
        {"ratio": 1},
        {"ratio": 1.5},
        {"ratio": float("nan")},
        {"ratio": float("inf")},
        {"ratio": False},
        {"long_only": 0},
        {"mode": "b"},
        {"mode": "c"},
        {"mode": 1},
        {"extra": 1},
    ],
)
def test_the_api_and_the_engine_accept_the_same_values(given: dict) -> None:
    try:
        api: dict | None = parameters_resolve(DECLARED, given)
    except ParameterError:
        api = None
    try:
        engine: dict | None = resolve_params(Declared, given)
    except StrategyError:
        engine = None
    assert api == engine


def test_one_param_bound_to_two_names_resolves_under_each_name() -> None:
    shared = Param(3, min=1, max=9)

    class Aliased(Strategy):
        first = shared
        second = shared  # __set_name__ names the spec "second" last

    assert resolve_params(Aliased, {"first": 5}) == {"first": 5, "second": 3}
    with pytest.raises(StrategyError, match="first=10 is above its maximum 9"):
        resolve_params(Aliased, {"first": 10})
