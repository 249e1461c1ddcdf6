"""Orders as docs/strategy-guide.md describes them, worked out by hand on tiny bar sets.

"Fill model": limit orders fill at the limit, or at the open when the bar opens beyond it (a
better price); stops trigger at the stop, or at the open when the bar gaps through it (a worse
price); neither fills when the bar's range does not reach the level. "Orders": the order a
strategy holds is read-only, ``cancel()`` cancels it while pending and does nothing after.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from backtesting.engine import BacktestSpec, Strategy, run_backtest
from backtesting.engine.orders import Order, OrderView, limit_price, order_view, trigger_price
from tests.engine.helpers import bars_from_rows

BUY, SELL = 1, -1
# One bar: open 100, high 110, low 90.
OPEN, HIGH, LOW = 100.0, 110.0, 90.0


@pytest.mark.parametrize(
    ("side", "stop", "expected"),
    [
        (BUY, 105.0, 105.0),  # inside the range: at the stop
        (BUY, 110.0, 110.0),  # touched at the high
        (BUY, 110.01, None),  # never reached
        (BUY, 95.0, 100.0),  # opened above a buy stop: at the open (worse)
        (BUY, 100.0, 100.0),  # exactly at the open
        (SELL, 95.0, 95.0),
        (SELL, 90.0, 90.0),  # touched at the low
        (SELL, 89.99, None),
        (SELL, 105.0, 100.0),  # opened below a sell stop: at the open (worse)
        (SELL, 100.0, 100.0),
    ],
)
def test_stop_trigger_price(side: int, stop: float, expected: float | None) -> None:
    price = trigger_price(side, stop, OPEN, HIGH, LOW)
    if expected is None:
        assert math.isnan(price)
    else:
        assert price == expected


@pytest.mark.parametrize(
    ("side", "limit", "expected"),
    [
        (BUY, 95.0, 95.0),  # inside the range: at the limit
        (BUY, 90.0, 90.0),  # touched at the low
        (BUY, 89.99, None),  # never reached
        (BUY, 105.0, 100.0),  # opened below a buy limit: at the open (better)
        (BUY, 100.0, 100.0),
        (SELL, 105.0, 105.0),
        (SELL, 110.0, 110.0),  # touched at the high
        (SELL, 110.01, None),
        (SELL, 95.0, 100.0),  # opened above a sell limit: at the open (better)
        (SELL, 100.0, 100.0),
    ],
)
def test_limit_fill_price(side: int, limit: float, expected: float | None) -> None:
    price = limit_price(side, limit, OPEN, HIGH, LOW)
    if expected is None:
        assert math.isnan(price)
    else:
        assert price == expected


ROWS = [
    [100.0, 101.0, 99.0, 100.0],
    [102.0, 104.0, 101.0, 103.0],
    [103.0, 106.0, 102.0, 105.0],
    [105.0, 107.0, 104.0, 106.0],
]


def _run(strategy: type[Strategy]) -> Any:
    return run_backtest(
        BacktestSpec(initial_cash=10_000.0), {"AAA": bars_from_rows(ROWS)}, strategy
    )


def test_the_order_a_strategy_holds_follows_its_fill() -> None:
    seen: dict[str, Any] = {}

    class BuyAndWatch(Strategy):
        def next(self) -> None:
            if self.bar_index == 0:
                order = self.buy(units=3)
                seen["placed"] = order
                seen["at_placing"] = (
                    order.status,
                    order.is_pending,
                    order.is_buy,
                    order.kind,
                    order.side,
                    order.tif,
                    order.filled_units,
                    order.fill_bar,
                    math.isnan(order.fill_price),
                    order.reason,
                    repr(order),
                )
            elif self.bar_index == 1:
                order = seen["placed"]
                seen["after_fill"] = (
                    order.status,
                    order.is_pending,
                    order.filled_units,
                    order.fill_bar,
                    order.fill_price,
                    order.units,
                    repr(order),
                )
                order.cancel()  # filled already: no effect
                seen["after_cancel"] = (order.status, order.reason)

    _run(BuyAndWatch)
    order = seen["placed"]
    assert seen["at_placing"] == (
        "pending",
        True,
        True,
        "market",
        1,
        "gtc",
        0.0,
        -1,
        True,
        "",
        f"<Order {order.id} market buy pending>",
    )
    # A market order placed at bar 0's close fills at bar 1's open, 102.
    assert seen["after_fill"] == (
        "filled",
        False,
        3.0,
        1,
        102.0,
        3.0,
        f"<Order {order.id} market buy filled>",
    )
    assert seen["after_cancel"] == ("filled", "")


def test_cancelling_a_pending_order_records_who_cancelled_it() -> None:
    seen: dict[str, Any] = {}

    class SellLimitThenCancel(Strategy):
        def next(self) -> None:
            if self.bar_index == 0:
                # A limit far below the prices: it never fills.
                seen["order"] = self.buy(units=1, limit=50.0)
            elif self.bar_index == 1:
                order = seen["order"]
                seen["before"] = (order.status, order.is_pending, order.kind)
                order.cancel()
                seen["after"] = (order.status, order.is_pending, order.reason)

    result = _run(SellLimitThenCancel)
    assert seen["before"] == ("pending", True, "limit")
    assert seen["after"] == ("cancelled", False, "cancelled by strategy")
    (record,) = result.orders
    assert (record["status"], record["reason"]) == ("cancelled", "cancelled by strategy")
    assert result.trades == ()


def test_a_sell_order_reads_as_a_sell() -> None:
    seen: dict[str, Any] = {}

    class ShortOnce(Strategy):
        def next(self) -> None:
            if self.bar_index == 0:
                order = self.sell(units=2, stop=50.0)
                seen["fields"] = (order.is_buy, order.side, order.kind, order.stop, repr(order))

    _run(ShortOnce)
    is_buy, side, kind, stop, text = seen["fields"]
    assert (is_buy, side, kind, stop) == (False, -1, "stop", 50.0)
    assert text.endswith(" stop sell pending>")


def test_the_order_view_is_read_only_and_hides_the_engine() -> None:
    seen: dict[str, Any] = {}

    class Meddle(Strategy):
        def next(self) -> None:
            if self.bar_index != 0:
                return
            order = self.buy(units=1)
            for name in ("status", "sym_index", "id"):
                try:
                    setattr(order, name, "filled")
                except (AttributeError, TypeError) as exc:
                    seen[f"set {name}"] = str(exc)
            try:
                del order.status
            except (AttributeError, TypeError) as exc:
                seen["delete"] = str(exc)
            for name in ("trade", "_engine", "sym_index"):
                try:
                    getattr(order, name)
                except AttributeError as exc:
                    seen[f"get {name}"] = str(exc)
            seen["status"] = order.status
            seen["order"] = order

    _run(Meddle)
    for name in ("status", "sym_index", "id"):
        assert seen[f"set {name}"] == (
            f"orders are read-only (cannot set {name!r}); cancel and re-place"
        )
    assert seen["delete"] == "orders are read-only (cannot delete 'status')"
    for name in ("trade", "_engine", "sym_index"):
        assert seen[f"get {name}"] == f"orders have no attribute {name!r}"
    assert seen["status"] == "pending"  # the writes did not reach the order
    assert seen["order"].status == "filled"


def test_two_views_of_one_order_are_equal_and_of_two_orders_are_not() -> None:
    seen: dict[str, Any] = {}

    class TwoOrders(Strategy):
        def next(self) -> None:
            if self.bar_index == 0:
                seen["a"] = self.buy(units=1)
                seen["b"] = self.buy(units=1)

    _run(TwoOrders)
    a, b = seen["a"], seen["b"]
    assert a == a and a != b
    assert a != object() and (a == object()) is False
    assert hash(a) != hash(b)
    assert len({a, b, a}) == 2


def test_exit_orders_of_a_bracket_carry_their_parent_symbol_and_tag() -> None:
    class Bracket(Strategy):
        def next(self) -> None:
            if self.bar_index == 0:
                self.buy(units=2, sl=50.0, tp=200.0, tag="swing")

    result = _run(Bracket)
    entry, stop_loss, take_profit = result.orders
    assert (entry["id"], entry["symbol"], entry["tag"], entry["parent_id"]) == (
        1,
        "AAA",
        "swing",
        None,
    )
    for child, kind in ((stop_loss, "stop_loss"), (take_profit, "take_profit")):
        assert (child["kind"], child["symbol"], child["tag"], child["parent_id"]) == (
            kind,
            "AAA",
            "swing",
            1,
        )
        assert (child["tif"], child["side"], child["placed_bar"]) == ("gtc", "sell", 1)
        assert (child["status"], child["reason"]) == ("cancelled", "end of data")
    assert (stop_loss["stop"], take_profit["limit"]) == (50.0, 200.0)
    assert [o["id"] for o in result.orders] == [1, 2, 3]


def test_a_view_built_directly_reads_its_order_like_the_engine_view() -> None:
    order = Order("limit", "AAA", 0, -1, "tagged")
    direct, made = OrderView(order), order_view(order)
    assert direct == made and hash(direct) == hash(made)
    assert (direct.kind, direct.symbol, direct.side, direct.tag, direct.status) == (
        "limit",
        "AAA",
        -1,
        "tagged",
        "pending",
    )
    assert (direct.is_buy, direct.is_pending, direct.tif) == (False, True, "gtc")
    assert repr(direct) == "<Order 0 limit sell pending>"
