"""Errors are classified by origin: what the user's code returned or set is the user's error.

A StrategyError (the user's fault) says which value was wrong; an EngineError is for our bugs
only and never repeats text the user's code produced.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtesting.engine import (
    BacktestSpec,
    EngineError,
    Strategy,
    StrategyError,
    run_backtest,
)
from backtesting.engine import broker as broker_module
from tests.engine.helpers import random_bars, scripted

N_BARS = 30


def _run(cls: type[Strategy], spec: BacktestSpec | None = None) -> Any:
    return run_backtest(spec or BacktestSpec(), {"AAA": random_bars(N_BARS)}, cls)


def _signals_returning(value: Any) -> type[Strategy]:
    def signals(self: Strategy, data: Any) -> Any:
        return value

    return type("ReturnsSignals", (Strategy,), {"signals": signals})


# ---------------------------------------------------------------------------- signals()


@pytest.mark.parametrize(
    ("returned", "said"),
    [
        (np.array(["buy"] * N_BARS), "signals() returned a column of strings for 'AAA'"),
        ({"AAA": ["long"] * N_BARS}, "signals() returned a column of strings for 'AAA'"),
        ([None] * N_BARS, "signals() returned a column of Python objects for 'AAA'"),
        ((x for x in range(N_BARS)), "signals() returned a generator for 'AAA'"),
        ([[1.0, 2.0], [1.0]], "signals() returned a list that is not an array of numbers"),
        (np.full(N_BARS, 1 + 2j), "signals() returned a column of complex numbers for 'AAA'"),
    ],
    ids=["strings", "dict_of_strings", "nones", "generator", "ragged", "complex"],
)
def test_signals_returning_something_other_than_numbers_is_the_users_error(
    returned: Any, said: str
) -> None:
    with pytest.raises(StrategyError) as info:
        _run(_signals_returning(returned))
    assert said in info.value.message
    assert "expected numbers or booleans" in info.value.message


def test_signals_with_many_unknown_symbols_names_a_few_briefly() -> None:
    returned = {f"S{k}" + "x" * 500: np.zeros(N_BARS) for k in range(1000)}
    with pytest.raises(StrategyError, match="1000 unknown symbol") as info:
        _run(_signals_returning(returned))
    assert len(info.value.message) < 500


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    returned=st.one_of(
        st.none(),
        st.text(max_size=5),
        st.lists(st.one_of(st.floats(), st.integers(), st.booleans(), st.none(), st.text())),
        st.dictionaries(st.sampled_from(["AAA", "BBB", "aaa"]), st.lists(st.floats())),
        st.lists(st.floats(allow_nan=True), min_size=N_BARS, max_size=N_BARS),
        st.lists(st.integers(), min_size=N_BARS, max_size=N_BARS),
    )
)
def test_whatever_signals_returns_the_run_ends_in_a_result_or_a_strategy_error(
    returned: Any,
) -> None:
    with contextlib.suppress(StrategyError):
        _run(_signals_returning(returned))


# ---------------------------------------------------------------------------- orders


def _buys_once(**kwargs: Any) -> type[Strategy]:
    def next_(self: Strategy) -> None:
        if self.bar_index == N_BARS - 3:
            self.buy(**kwargs)

    return type("BuysOnce", (Strategy,), {"next": next_})


def test_a_tag_longer_than_100_characters_is_refused_where_the_order_is_placed() -> None:
    with pytest.raises(StrategyError, match="tag") as info:
        _run(_buys_once(tag="x" * 101))
    assert info.value.traceback_lines  # points at the user's line
    assert _run(_buys_once(tag="y" * 100)).orders[0]["tag"] == "y" * 100


@pytest.mark.parametrize("tag", ["a\x00b", "\ud800"])
def test_a_tag_that_cannot_be_stored_as_text_is_refused(tag: str) -> None:
    with pytest.raises(StrategyError, match="tag"):
        _run(_buys_once(tag=tag))


@pytest.mark.parametrize(
    "kwargs",
    [{"value": 1e308}, {"units": 1e308}, {"units": 10**400}, {"limit": 1e308}, {"stop": 1e300}],
    ids=["value", "units", "huge_int", "limit", "stop"],
)
@pytest.mark.parametrize("lot", [None, 0.001, 1e-300])
def test_absurd_order_numbers_are_the_users_error_or_a_rejection(
    kwargs: dict[str, Any], lot: float | None
) -> None:
    spec = BacktestSpec(fractional_units=lot is not None and lot < 1, lot_size=lot)
    try:
        result = _run(_buys_once(**kwargs), spec)
    except StrategyError as exc:
        assert next(iter(kwargs)) in exc.message
    else:
        assert result.orders[0]["status"] in ("rejected", "cancelled")


ORDER_VALUES = st.one_of(
    st.none(),
    st.floats(),
    st.sampled_from([5e-324, 1e308, 10**400, -1, 0, True, math.inf]),
    st.integers(),
    st.text(max_size=3),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    args=st.dictionaries(
        st.sampled_from(
            ["units", "fraction", "value", "limit", "stop", "sl", "tp", "trail", "tif", "tag"]
        ),
        ORDER_VALUES,
        max_size=4,
    ),
    fractional=st.booleans(),
)
def test_whatever_an_order_asks_for_the_run_ends_in_a_result_or_a_strategy_error(
    args: dict[str, Any], fractional: bool
) -> None:
    spec = BacktestSpec(fractional_units=fractional, lot_size=0.001 if fractional else None)
    with contextlib.suppress(StrategyError):
        _run(_buys_once(**args), spec)


# ---------------------------------------------------------------------------- names


def _noop(self: Strategy) -> None:
    pass


@pytest.mark.parametrize("name", ["cash", "position", "data", "orders", "buy", "parameters", "I"])
def test_a_strategy_attribute_that_shadows_an_engine_name_is_refused_by_name(name: str) -> None:
    with pytest.raises(StrategyError, match=f"'{name}'") as info:
        _run(type("Shadows", (Strategy,), {name: 5, "next": _noop}))
    assert "reserved" in info.value.message


@pytest.mark.parametrize("name", ["next", "init", "signals"])
def test_a_strategy_hook_that_is_not_a_method_is_refused_by_name(name: str) -> None:
    with pytest.raises(StrategyError, match=f"'{name}'"):
        _run(type("NotAMethod", (Strategy,), {name: 5}))


@pytest.mark.parametrize("name", ["next", "buy", "close", "position"])
def test_init_setting_an_engine_name_on_self_is_refused_by_name(name: str) -> None:
    def init(self: Strategy) -> None:
        setattr(self, name, None)

    with pytest.raises(StrategyError, match=f"set self.{name},"):
        _run(type("SetsName", (Strategy,), {"init": init, "next": _noop}))


def test_a_strategys_own_names_are_fine() -> None:
    def init(self: Any) -> None:
        self.count = 0
        self.closes = list(self.data.close)

    result = _run(type("OwnNames", (Strategy,), {"init": init, "next": _noop, "size": 3}))
    assert result.orders == ()


# ---------------------------------------------------------------------------- our bugs


def test_an_engine_bug_is_an_engine_error_without_the_exceptions_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self: Any, i: int) -> None:
        raise KeyError("text that came from somewhere else")

    monkeypatch.setattr(broker_module.Broker, "process_bar", broken)
    with pytest.raises(EngineError) as info:  # the strategy's code lives in helpers.py
        _run(scripted({N_BARS - 3: [("buy", {"units": 1})]}))
    message = str(info.value)
    assert "internal error" in message and "KeyError" in message
    assert "text that came from somewhere else" not in message
