"""Exits in the bar a stop entry fills: taken where the bar proves their order, else pessimistic.

Every case: the order is placed on bar 0, bar 1 is the entry bar, bar 2 is quiet (it reaches
neither exit), so an exit that is not taken in bar 1 leaves the trade open at the end.
"""

from __future__ import annotations

from typing import Any

import pytest

from backtesting.engine import BacktestSpec, run_backtest
from tests.engine.helpers import bars_from_rows, scripted

QUIET = [104.0, 104.5, 103.5, 104.0]


def _run(order: dict[str, Any], entry_bar: list[float], side: str = "buy") -> Any:
    bars = bars_from_rows([[100.0, 101.0, 99.0, 100.0], entry_bar, QUIET])
    spec = BacktestSpec(allow_short=side == "sell")
    return run_backtest(spec, {"AAA": bars}, scripted({0: [(side, {"units": 10, **order})]}))


def test_a_stop_entry_takes_its_take_profit_in_the_entry_bar_when_the_high_reaches_it() -> None:
    # Opens at 100 below the stop: the price rose through 105 (the entry) before it reached
    # 110, so the take-profit was touched after the fill; the low (99) never reached the stop.
    result = _run({"stop": 105.0, "sl": 95.0, "tp": 110.0}, [100.0, 112.0, 99.0, 108.0])
    (trade,) = result.trades
    assert (trade["entry_bar"], trade["entry_price"]) == (1, 105.0)
    assert trade["exit_bar"] == 1
    assert (trade["exit_price"], trade["exit_reason"]) == (110.0, "take_profit")
    assert not trade["open"] and not trade["ambiguous"]
    assert result.equity[-1] == 100_000.0 + 10 * (110.0 - 105.0)


def test_a_sell_stop_entry_takes_its_take_profit_below_in_the_entry_bar() -> None:
    result = _run({"stop": 95.0, "sl": 105.0, "tp": 90.0}, [100.0, 101.0, 88.0, 92.0], "sell")
    (trade,) = result.trades
    assert (trade["entry_price"], trade["exit_bar"], trade["exit_price"]) == (95.0, 1, 90.0)
    assert result.equity[-1] == 100_000.0 + 10 * (95.0 - 90.0)


def test_a_stop_limit_filled_at_its_trigger_takes_its_take_profit_in_that_bar() -> None:
    order = {"stop": 105.0, "limit": 106.0, "tp": 110.0}
    result = _run(order, [100.0, 112.0, 99.0, 108.0])
    (trade,) = result.trades
    assert (trade["entry_price"], trade["exit_bar"], trade["exit_price"]) == (105.0, 1, 110.0)


def test_a_stop_entry_gapping_through_the_stop_takes_its_take_profit_in_that_bar() -> None:
    # Filled at the open (106): every later price of the bar comes after the entry.
    result = _run({"stop": 105.0, "sl": 95.0, "tp": 110.0}, [106.0, 112.0, 105.5, 108.0])
    (trade,) = result.trades
    assert (trade["entry_price"], trade["exit_bar"], trade["exit_price"]) == (106.0, 1, 110.0)
    assert not trade["ambiguous"]


def test_a_stop_entry_whose_bar_also_reaches_the_stop_loss_assumes_the_stop() -> None:
    # The low (99) is under the stop-loss (100): it may have come after the entry (105 -> 99 ->
    # 112) or before it (99 -> 105 -> 112). The order is unknown, so the worse one is assumed.
    result = _run({"stop": 105.0, "sl": 100.0, "tp": 110.0}, [102.0, 112.0, 99.0, 108.0])
    (trade,) = result.trades
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == (1, 100.0, "stop_loss")
    assert trade["ambiguous"]
    assert result.equity[-1] == 100_000.0 + 10 * (100.0 - 105.0)


def test_a_stop_entry_whose_bar_misses_the_take_profit_keeps_its_exits_for_the_next_bar() -> None:
    # Only the stop-loss may have been touched, and perhaps before the entry: nothing is proven.
    result = _run({"stop": 105.0, "sl": 100.0, "tp": 110.0}, [102.0, 108.0, 99.0, 106.0])
    (trade,) = result.trades
    assert trade["open"] and trade["entry_bar"] == 1


@pytest.mark.parametrize("tp", [103.0, 110.0])
def test_a_limit_entry_inside_the_bar_leaves_its_take_profit_for_the_next_bar(tp: float) -> None:
    # A buy limit fills on the way down: the high may have come before the fill (100 -> 112 ->
    # 98), so reaching the take-profit proves nothing.
    result = _run({"limit": 98.0, "tp": tp}, [100.0, 112.0, 95.0, 99.0])
    (trade,) = result.trades
    assert trade["entry_price"] == 98.0
    assert trade["exit_bar"] != 1


@pytest.mark.parametrize(
    ("side", "order", "entry_bar", "exit_price"),
    [
        # The high touches the take-profit exactly: reached.
        ("buy", {"stop": 105.0, "sl": 95.0, "tp": 110.0}, [100.0, 110.0, 99.5, 108.0], 110.0),
        # A sell stop entry whose low touches its take-profit exactly.
        ("sell", {"stop": 95.0, "sl": 105.0, "tp": 90.0}, [100.0, 101.0, 90.0, 92.0], 90.0),
        # A take-profit at or beyond the entry is crossed at the fill itself: out at the entry
        # (the price was already better than the limit, as when a bar opens beyond it).
        ("buy", {"stop": 105.0, "sl": 95.0, "tp": 104.0}, [100.0, 106.0, 99.0, 105.0], 105.0),
        ("sell", {"stop": 95.0, "sl": 105.0, "tp": 96.0}, [100.0, 101.0, 94.0, 95.0], 95.0),
    ],
)
def test_a_take_profit_proven_in_the_entry_bar_fills_there(
    side: str, order: dict[str, float], entry_bar: list[float], exit_price: float
) -> None:
    result = _run(order, entry_bar, side)
    (trade,) = result.trades
    assert (trade["entry_bar"], trade["entry_price"]) == (1, order["stop"])
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == (
        1,
        exit_price,
        "take_profit",
    )
    assert not trade["ambiguous"]


@pytest.mark.parametrize(
    ("side", "order", "entry_bar", "exit_price", "reason", "ambiguous"),
    [
        # The low touches the stop-loss exactly, the high passes the take-profit: the stop.
        (
            "buy",
            {"stop": 105.0, "sl": 100.0, "tp": 110.0},
            [102.0, 112.0, 100.0, 108.0],
            100.0,
            "stop_loss",
            True,
        ),
        # The mirror for a short: the high touches the stop-loss above.
        (
            "sell",
            {"stop": 95.0, "sl": 100.0, "tp": 90.0},
            [98.0, 100.0, 88.0, 92.0],
            100.0,
            "stop_loss",
            True,
        ),
        # A stop-loss at or beyond the entry is crossed at the fill itself: out at the entry,
        # with no doubt about the order of the touches.
        (
            "buy",
            {"stop": 105.0, "sl": 106.0, "tp": 110.0},
            [100.0, 112.0, 99.0, 108.0],
            105.0,
            "stop_loss",
            False,
        ),
        (
            "sell",
            {"stop": 95.0, "sl": 94.0, "tp": 90.0},
            [100.0, 101.0, 88.0, 92.0],
            95.0,
            "stop_loss",
            False,
        ),
        # A stop-loss at the entry itself: also crossed at the fill.
        (
            "buy",
            {"stop": 105.0, "sl": 105.0, "tp": 110.0},
            [100.0, 112.0, 99.0, 108.0],
            105.0,
            "stop_loss",
            False,
        ),
        (
            "sell",
            {"stop": 95.0, "sl": 95.0, "tp": 90.0},
            [100.0, 101.0, 88.0, 92.0],
            95.0,
            "stop_loss",
            False,
        ),
        # A trailing stop starts at entry * (1 -/+ trail): 105 * 0.95 = 99.75 for the buy,
        # reached by the low of 99; 95 * 1.05 = 99.75 for the sell, reached by the high of 100.
        (
            "buy",
            {"stop": 105.0, "trail": 0.05, "tp": 110.0},
            [100.0, 112.0, 99.0, 108.0],
            99.75,
            "trailing_stop",
            True,
        ),
        (
            "sell",
            {"stop": 95.0, "trail": 0.05, "tp": 90.0},
            [98.0, 100.0, 88.0, 92.0],
            99.75,
            "trailing_stop",
            True,
        ),
        # Of a stop-loss and a trailing stop the tighter one applies: the trail's 99.75 above
        # the stop-loss's 99.5 for the buy; for the sell the stop-loss's 100 below the 6 %
        # trail's 95 * 1.06 = 100.7 (the high, 101, passes both).
        (
            "buy",
            {"stop": 105.0, "sl": 99.5, "trail": 0.05, "tp": 110.0},
            [100.0, 112.0, 99.0, 108.0],
            99.75,
            "trailing_stop",
            True,
        ),
        (
            "sell",
            {"stop": 95.0, "sl": 100.0, "trail": 0.06, "tp": 90.0},
            [98.0, 101.0, 88.0, 92.0],
            100.0,
            "stop_loss",
            True,
        ),
    ],
)
def test_a_stop_reached_in_the_entry_bar_of_a_proven_take_profit_is_assumed(
    side: str,
    order: dict[str, float],
    entry_bar: list[float],
    exit_price: float,
    reason: str,
    ambiguous: bool,
) -> None:
    result = _run(order, entry_bar, side)
    (trade,) = result.trades
    assert (trade["entry_bar"], trade["entry_price"]) == (1, order["stop"])
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == pytest.approx(
        (1, exit_price, reason)
    )
    assert trade["ambiguous"] is ambiguous
    take_profit = next(o for o in result.orders if o["kind"] == "take_profit")
    assert take_profit["status"] == "cancelled"


def test_a_stop_entry_with_a_stop_loss_only_keeps_it_for_the_next_bar() -> None:
    # No take-profit: nothing proves the low (99, under the 100 stop-loss) came after the fill.
    result = _run({"stop": 105.0, "sl": 100.0}, [102.0, 108.0, 99.0, 106.0])
    (trade,) = result.trades
    assert trade["open"] and trade["entry_bar"] == 1


def test_a_stop_limit_filled_later_as_a_limit_leaves_its_exits_for_the_next_bar() -> None:
    # Bar 1 triggers the buy stop at 105, above the 104 limit: it waits as a limit order.
    # Bar 2 opens at 106 and comes down to 104: a limit fill inside the bar, so its high
    # (109, past the 108 take-profit) may have come first: the exits start on bar 3.
    rows = [
        [100.0, 101.0, 99.0, 100.0],
        [100.0, 110.0, 99.0, 108.0],
        [106.0, 109.0, 103.0, 107.0],
        QUIET,
    ]
    order = {"units": 10, "stop": 105.0, "limit": 104.0, "tp": 108.0}
    result = run_backtest(
        BacktestSpec(), {"AAA": bars_from_rows(rows)}, scripted({0: [("buy", order)]})
    )
    (trade,) = result.trades
    assert (trade["entry_bar"], trade["entry_price"], trade["open"]) == (2, 104.0, True)


def test_a_one_unit_stop_entry_takes_its_take_profit_in_the_entry_bar() -> None:
    result = _run({"units": 1, "stop": 105.0, "tp": 110.0}, [100.0, 112.0, 99.0, 108.0])
    (trade,) = result.trades
    assert (trade["size"], trade["exit_bar"], trade["exit_price"]) == (1.0, 1, 110.0)


def test_a_sell_stop_entry_whose_bar_misses_the_take_profit_keeps_its_exits() -> None:
    # Sold at 95 on the way down to 92, short of the 90 take-profit: nothing is proven.
    result = _run({"stop": 95.0, "sl": 105.0, "tp": 90.0}, [100.0, 101.0, 92.0, 93.0], "sell")
    (trade,) = result.trades
    assert (trade["entry_bar"], trade["entry_price"], trade["open"]) == (1, 95.0, True)


def test_a_stop_entry_gapping_through_the_stop_has_its_stop_loss_live_in_that_bar() -> None:
    # Filled at the open (106): the later low of 99 passes the 100 stop-loss after the fill.
    result = _run({"stop": 105.0, "sl": 100.0, "tp": 110.0}, [106.0, 107.0, 99.0, 100.0])
    (trade,) = result.trades
    assert (trade["entry_price"], trade["exit_bar"], trade["exit_price"]) == (106.0, 1, 100.0)
    assert (trade["exit_reason"], trade["ambiguous"]) == ("stop_loss", False)


def test_a_same_close_entry_takes_no_exit_in_the_bar_it_filled_at_the_close() -> None:
    # fill_mode same_close: bought at bar 0's close (100) with a take-profit of 101, which
    # bar 0's high reached before the fill. The later bars stay at 100: the trade stays open.
    still = [100.0, 100.0, 100.0, 100.0]
    rows = [[100.0, 101.0, 99.0, 100.0], still, still]
    order = {"units": 1, "tp": 101.0}
    result = run_backtest(
        BacktestSpec(fill_mode="same_close"),
        {"AAA": bars_from_rows(rows)},
        scripted({0: [("buy", order)]}),
    )
    (trade,) = result.trades
    assert (trade["entry_bar"], trade["entry_price"], trade["open"]) == (0, 100.0, True)
