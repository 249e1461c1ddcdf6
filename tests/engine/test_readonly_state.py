"""Engine state a strategy can reach is read-only: a mutation fails on the user's own line.

Each mutation is tried from init() or next(); the run must stop with a StrategyError whose
traceback points into the strategy (this file), never an EngineError, and never go on with
the engine's state changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from backtesting.engine import BacktestSpec, Strategy, StrategyError, run_backtest
from tests.engine.helpers import bars_from_rows, random_bars

Mutation = Callable[[Strategy], Any]


INIT_MUTATIONS: dict[str, Mutation] = {}
NEXT_MUTATIONS: dict[str, Mutation] = {}


def _in(registry: dict[str, Mutation]) -> Callable[[Mutation], Mutation]:
    def register(mutation: Mutation) -> Mutation:
        registry[mutation.__name__] = mutation
        return mutation

    return register


# Each is written as a user would write it (plain statements), so the error is the one a user
# sees.
@_in(INIT_MUTATIONS)
def add_to_datas(s: Any) -> None:
    s.datas["ZZZ"] = s.data


@_in(INIT_MUTATIONS)
def replace_in_datas(s: Any) -> None:
    s.datas["AAA"] = None


@_in(INIT_MUTATIONS)
def delete_from_datas(s: Any) -> None:
    del s.datas["AAA"]


@_in(INIT_MUTATIONS)
def clear_datas(s: Any) -> None:
    s.datas.clear()


@_in(INIT_MUTATIONS)
def write_close(s: Any) -> None:
    s.data.close[0] = 1.0


@_in(INIT_MUTATIONS)
def write_time(s: Any) -> None:
    s.data.time[0] = 0


@_in(INIT_MUTATIONS)
def rename_data(s: Any) -> None:
    s.data.symbol = "ZZZ"


@_in(INIT_MUTATIONS)
def replace_close(s: Any) -> None:
    s.data.close = None


@_in(INIT_MUTATIONS)
def write_symbols(s: Any) -> None:
    s.symbols[0] = "ZZZ"


@_in(INIT_MUTATIONS)
def replace_datas(s: Any) -> None:
    s.datas = {}


@_in(NEXT_MUTATIONS)
def write_view_name(s: Any) -> None:
    s.data.close.name = "x"


@_in(NEXT_MUTATIONS)
def write_view_window(s: Any) -> None:
    s.data.close.values[0] = 1.0


@_in(NEXT_MUTATIONS)
def write_time_window(s: Any) -> None:
    s.data.time.values[0] = 0


@_in(NEXT_MUTATIONS)
def write_position(s: Any) -> None:
    s.position().size = 5.0


@_in(NEXT_MUTATIONS)
def write_order_status(s: Any) -> None:
    s.buy(units=1).status = "filled"


@_in(NEXT_MUTATIONS)
def write_order_symbol_index(s: Any) -> None:
    s.buy(units=1).sym_index = 7


@_in(NEXT_MUTATIONS)
def write_order_limit(s: Any) -> None:
    s.buy(units=1, limit=1.0).limit = 1e9


@_in(NEXT_MUTATIONS)
def write_pending_order(s: Any) -> None:
    s.buy(units=1, limit=1.0)
    s.orders[0].units = 9


@_in(NEXT_MUTATIONS)
def write_indicator(s: Any) -> None:
    s.sma[-1] = 0.0


@_in(NEXT_MUTATIONS)
def write_indicator_window(s: Any) -> None:
    s.sma.values[0] = 0.0


def _strategy(on_init: Mutation | None, on_next: Mutation | None) -> type[Strategy]:
    class Mutates(Strategy):
        def init(self) -> None:
            self.sma = self.I(lambda c: c * 1.0, self.data.close)
            if on_init is not None:
                on_init(self)

        def next(self) -> None:
            if on_next is not None and self.bar_index == 5:
                on_next(self)

    return Mutates


def _assert_users_error(cls: type[Strategy]) -> StrategyError:
    with pytest.raises(StrategyError) as info:
        run_backtest(BacktestSpec(), {"AAA": random_bars(20)}, cls)
    assert "internal error" not in info.value.message
    assert any(__file__ in line for line in info.value.traceback_lines), info.value.message
    return info.value


@pytest.mark.parametrize("mutation", INIT_MUTATIONS.values(), ids=INIT_MUTATIONS.keys())
def test_mutating_engine_state_in_init_is_the_users_error_on_their_line(
    mutation: Mutation,
) -> None:
    _assert_users_error(_strategy(mutation, None))


@pytest.mark.parametrize("mutation", NEXT_MUTATIONS.values(), ids=NEXT_MUTATIONS.keys())
def test_mutating_engine_state_in_next_is_the_users_error_on_their_line(
    mutation: Mutation,
) -> None:
    _assert_users_error(_strategy(None, mutation))


def test_adding_an_instrument_in_init_says_the_mapping_is_read_only() -> None:
    error = _assert_users_error(_strategy(add_to_datas, None))
    assert "does not support item assignment" in error.message
    assert "_live" not in error.message


class ReadsEverything(Strategy):
    """Reads all the state it can reach; a run with it must equal a run without it."""

    def init(self) -> None:
        self.seen = [dict(self.datas), list(self.symbols), self.data.time[0]]

    def next(self) -> None:
        order = self.buy(units=1, limit=float(self.data.close[-1]) * 0.99, tag="t")
        self.seen.append((order.status, order.limit, order.tag, self.orders, self.position()))
        self.seen.append((self.data.close.name, self.datas["AAA"].symbol, self.equity))


def test_reading_engine_state_still_works() -> None:
    bars = bars_from_rows([[100.0, 101.0, 99.0, 100.0]] * 6)
    result = run_backtest(BacktestSpec(), {"AAA": bars}, ReadsEverything)
    assert result.orders[0]["tag"] == "t" and result.orders[0]["status"] == "filled"
