"""Lots, resizes, flips, costs and margin of the broker, worked out by hand (strategy guide).

The rules used: a market order placed on bar t fills at bar t + 1's open; execution price =
market * (1 +/- impact), impact = half the spread plus slippage, against the trader on either
side; commission = max(fixed + pct * notional, minimum) per fill; sizes are resolved at fill
time from the execution price and round down; a ``units=`` order nets against the position
first-in first-out and opens the remainder, a sized order against the position closes it first
(two fills, each charged); initial margin: margin_initial * gross exposure <= equity after the
fill, "all available" = equity / margin_initial - gross exposure; maintenance margin at the
close; reducing exposure is always allowed and exits never meet the minimum order value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from backtesting.engine import BacktestSpec, CostModel, Strategy, run_backtest
from tests.engine.helpers import bars_from_rows, scripted

FLAT = [100.0, 101.0, 99.0, 100.0]
# Opens 100, 101, 102, 103, ...: each fill's price says which bar it came from.
RISING = [[100.0 + k, 100.5 + k, 99.5 + k, 100.0 + k] for k in range(6)]


def _run(rows: list[list[float]], script: dict[int, Any], **spec: Any) -> Any:
    spec.setdefault("initial_cash", 10_000.0)
    bars = {"AAA": bars_from_rows(rows)}
    return run_backtest(BacktestSpec(**spec), bars, scripted(script))


def _by_id(result: Any) -> dict[int, dict[str, Any]]:
    return {t["id"]: t for t in result.trades}


def test_a_sell_of_more_units_than_held_closes_the_long_and_shorts_the_rest() -> None:
    # Long 5 at 100 (fee 0.1 % of 500 = 0.5). Selling 8 at 100: one fill of 800, fee 0.8, of
    # which 5/8 = 0.5 closes the long and 3/8 = 0.3 opens the short of 3.
    script = {0: [("buy", {"units": 5})], 1: [("sell", {"units": 8})]}
    costs = CostModel(commission_pct=0.001)
    result = _run([FLAT] * 4, script, allow_short=True, costs=costs)
    long_, short = result.trades
    assert (long_["size"], long_["open"], long_["exit_bar"]) == (5.0, False, 2)
    assert long_["commission"] == pytest.approx(0.5 + 0.5)
    assert (short["size"], short["open"], short["entry_bar"]) == (-3.0, True, 2)
    assert short["commission"] == pytest.approx(0.3)
    sell = result.orders[1]
    assert (sell["status"], sell["filled_units"], sell["fill_price"]) == ("filled", -8.0, 100.0)
    assert sell["commission"] == pytest.approx(0.8)
    # 10000 - 500 - 0.5 + 800 - 0.8
    assert result.cash[-1] == pytest.approx(10_298.7)


def test_lots_add_up_and_a_sell_closes_them_first_in_first_out() -> None:
    # Buy 3 at 101 and 4 at 102 (a fixed 1.0 per fill): a position of 7 whose entry price is
    # (3 * 101 + 4 * 102) / 7. Sell 5 at 103: the first lot whole (exit fee 3/5 of 1.0) and
    # 2 of the second, split off with half its entry fee (0.5) and 2/5 of the exit fee.
    seen: dict[str, Any] = {}

    class Ladder(Strategy):
        def next(self) -> None:
            if self.bar_index == 0:
                self.buy(units=3)
            elif self.bar_index == 1:
                self.buy(units=4)
            elif self.bar_index == 2:
                position = self.position()
                seen["position"] = (position.size, position.entry_price)
                self.sell(units=5)

    spec = BacktestSpec(initial_cash=10_000.0, costs=CostModel(commission_fixed=1.0))
    result = run_backtest(spec, {"AAA": bars_from_rows(RISING)}, Ladder)
    assert seen["position"] == (7.0, pytest.approx((3 * 101.0 + 4 * 102.0) / 7))
    trades = _by_id(result)
    assert sorted(trades) == [1, 2, 3]
    first, rest, part = trades[1], trades[2], trades[3]
    assert (first["size"], first["entry_price"], first["exit_price"], first["open"]) == (
        3.0,
        101.0,
        103.0,
        False,
    )
    assert first["commission"] == pytest.approx(1.0 + 0.6)
    assert (part["size"], part["entry_price"], part["exit_price"], part["open"]) == (
        2.0,
        102.0,
        103.0,
        False,
    )
    assert part["commission"] == pytest.approx(0.5 + 0.4)
    assert (rest["size"], rest["entry_price"], rest["open"]) == (2.0, 102.0, True)
    assert rest["commission"] == pytest.approx(0.5)
    # 10000 - 303 - 1 - 408 - 1 + 515 - 1
    assert result.cash[-1] == pytest.approx(9_801.0)
    assert [t["id"] for t in result.trades] == [1, 3, 2]  # closed in closing order, then open


def test_a_sized_sell_while_long_closes_first_then_shorts_from_the_new_equity() -> None:
    # A fixed fee of 1.0 per fill. Long 5 at 100: cash 9499. Selling half the equity at 100:
    # the long closes first (cash 9499 + 500 - 1 = 9998 = equity), then 0.5 * 9998 = 4999
    # sells the units whose value plus fee fit: 49 (4900 + 1 <= 4999 < 5000 + 1).
    script = {0: [("buy", {"units": 5})], 1: [("sell", {"fraction": 0.5})]}
    costs = CostModel(commission_fixed=1.0)
    result = _run([FLAT] * 4, script, allow_short=True, costs=costs)
    long_, short = result.trades
    assert (long_["size"], long_["open"], long_["commission"]) == (5.0, False, 2.0)
    assert (short["size"], short["open"], short["commission"]) == (-49.0, True, 1.0)
    sell = result.orders[1]
    assert (sell["filled_units"], sell["fill_price"], sell["commission"]) == (-54.0, 100.0, 2.0)
    assert result.cash[-1] == pytest.approx(9_998.0 + 4_900.0 - 1.0)


def test_a_flip_reports_the_size_weighted_price_of_its_two_fills() -> None:
    # 10 bps slippage. Short 4 at 101 (sold at 100.899); buying 10 % of equity at 102 flips:
    # both legs buy at 102 * 1.001 = 102.102, so the order's price is that.
    script = {0: [("sell", {"units": 4})], 1: [("buy", {"fraction": 0.1})]}
    result = _run(RISING, script, allow_short=True, costs=CostModel(slippage_bps=10.0))
    buy = result.orders[1]
    assert buy["fill_price"] == pytest.approx(102.102)
    assert buy["market_price"] == 102.0
    # Equity after the cover: 10000 + 4 * 100.899 - 4 * 102.102 = 9995.188; a tenth is
    # 999.5188: 9 units at 102.102 (918.918; 10 would cost 1021.02).
    assert buy["filled_units"] == 4.0 + 9.0


def test_a_sized_sell_while_long_without_shorting_only_closes_the_long() -> None:
    for size in ({}, {"fraction": 0.5}, {"value": 300.0}):
        script = {0: [("buy", {"units": 5})], 1: [("sell", size)]}
        result = _run([FLAT] * 4, script)
        sell = result.orders[1]
        assert (sell["status"], sell["reason"], sell["filled_units"]) == ("filled", "", -5.0)
        assert [(t["size"], t["open"]) for t in result.trades] == [(5.0, False)]
        assert result.cash[-1] == 10_000.0


def test_a_flip_whose_new_side_rounds_to_nothing_keeps_the_close() -> None:
    # Long 5, then sell 50 of value with shorting on: the long closes (5 at 100), then 50
    # buys no whole unit at 100.
    script = {0: [("buy", {"units": 5})], 1: [("sell", {"value": 50.0})]}
    result = _run([FLAT] * 4, script, allow_short=True)
    sell = result.orders[1]
    assert (sell["status"], sell["filled_units"]) == ("filled", -5.0)
    assert sell["reason"] == "partially filled: size rounds to zero"
    assert [(t["size"], t["open"]) for t in result.trades] == [(5.0, False)]


@pytest.mark.parametrize(("side", "units"), [("buy", 9.0), ("sell", 10.0)])
def test_a_value_order_is_sized_at_the_execution_price(side: str, units: float) -> None:
    # 1000 of value with 10 bps slippage: a buy pays 100.1 (9.99 -> 9 units), a sell gets
    # 99.9 (10.01 -> 10 units).
    script = {0: [(side, {"value": 1_000.0})]}
    result = _run([FLAT] * 3, script, allow_short=True, costs=CostModel(slippage_bps=10.0))
    (order,) = result.orders
    sign = 1.0 if side == "buy" else -1.0
    assert order["filled_units"] == sign * units
    assert order["fill_price"] == pytest.approx(100.0 + sign * 0.1)


def test_a_short_pays_the_impact_on_both_sides() -> None:
    # A 20 bps spread (10 per side): short 10 sold at 99.9, bought back at 100.1.
    script = {0: [("sell", {"units": 10})], 1: [("close", {})]}
    result = _run([FLAT] * 3, script, allow_short=True, costs=CostModel(spread_bps=20.0))
    (trade,) = result.trades
    assert (trade["entry_price"], trade["exit_price"]) == pytest.approx((99.9, 100.1))
    assert trade["net_pnl"] == pytest.approx(-2.0)
    assert trade["gross_pnl"] == 0.0
    assert result.cash[-1] == pytest.approx(10_000.0 + 999.0 - 1_001.0)


def test_leverage_buys_twice_the_equity_and_is_called_below_maintenance() -> None:
    # margin_initial 0.5: all available = 10000 / 0.5 - 0 = 20000, 200 units at 100 (cash
    # -10000). At a close of 100 equity 10000 = 0.5 * 20000: no call. At 99 equity
    # -10000 + 19800 = 9800 < 0.5 * 19800 = 9900: liquidated at 99, cash 9800.
    rows = [FLAT, FLAT, [100.0, 100.5, 98.0, 99.0], FLAT]
    result = _run(rows, {0: [("buy", {})]}, margin_initial=0.5)
    (buy, liquidation) = result.orders
    assert buy["filled_units"] == 200.0
    assert result.cash.tolist()[:2] == [10_000.0, -10_000.0]
    assert (liquidation["kind"], liquidation["fill_bar"], liquidation["fill_price"]) == (
        "liquidation",
        2,
        99.0,
    )
    assert liquidation["filled_units"] == -200.0
    assert result.cash[-1] == 9_800.0
    assert result.equity.tolist() == [10_000.0, 10_000.0, 9_800.0, 9_800.0]


def test_all_available_with_leverage_counts_what_is_already_held() -> None:
    # margin_initial 0.5: 50 units at 100 first (cash 5000). All available then is
    # 10000 / 0.5 - 5000 = 15000: 150 more units.
    script = {0: [("buy", {"units": 50})], 1: [("buy", {})]}
    result = _run([FLAT] * 4, script, margin_initial=0.5)
    assert [o["filled_units"] for o in result.orders] == [50.0, 150.0]
    assert result.cash[-1] == 10_000.0 - 20_000.0


def test_an_order_beyond_the_initial_margin_is_rejected_with_the_margin_needed() -> None:
    # margin_initial 0.5 and a fee of 10: 201 units need 0.5 * 20100 = 10050 of 9990.
    result = _run(
        [FLAT] * 3,
        {0: [("buy", {"units": 201})]},
        margin_initial=0.5,
        costs=CostModel(commission_fixed=10.0),
    )
    (order,) = result.orders
    assert (order["status"], order["reason"]) == (
        "rejected",
        "insufficient funds: needs 10050.00, equity 9990.00",
    )


def test_the_initial_margin_counts_the_slippage_paid() -> None:
    # 99 units at 100 with 1 % slippage cost 9999: equity after the fill 10000 - 99 = 9901,
    # exposure 9900 at the market price: fits. 100 units: equity 9900 < 10000: rejected.
    costs = CostModel(slippage_bps=100.0)
    for units, status in ((99, "filled"), (100, "rejected")):
        result = _run([FLAT] * 3, {0: [("buy", {"units": units})]}, costs=costs)
        assert result.orders[0]["status"] == status


def test_reducing_a_position_is_allowed_whatever_the_margin() -> None:
    # Short 100 at 100 with margin_initial 1.0 (cash 20000). Bar 2 closes at 250 without a
    # margin call (maintenance off) though equity is 20000 - 25000 = -5000; buying back 10
    # at 250 reduces exposure and is allowed whatever the margin.
    rows = [FLAT, FLAT, [100.0, 250.0, 99.0, 250.0], [250.0, 251.0, 249.0, 250.0], FLAT]
    script = {0: [("sell", {"units": 100})], 2: [("buy", {"units": 10})]}
    result = _run(rows, script, allow_short=True, margin_maintenance=0.0)
    assert [o["status"] for o in result.orders] == ["filled", "filled"]
    assert result.orders[1]["fill_price"] == 250.0
    assert result.cash[-1] == 20_000.0 - 2_500.0


def test_an_exit_below_the_minimum_order_value_still_fills() -> None:
    # Long 10 at 100 with a minimum of 500: selling 3 (300) and closing 30 % (3 units) are
    # exits, which the minimum never stops.
    for exit_action in (("sell", {"units": 3}), ("close", {"fraction": 0.3})):
        script = {0: [("buy", {"units": 10})], 1: [exit_action]}
        result = _run([FLAT] * 4, script, min_order_value=500.0)
        assert [o["status"] for o in result.orders] == ["filled", "filled"]
        assert result.orders[1]["filled_units"] == -3.0


def test_a_resize_to_the_same_number_of_units_is_rejected_as_already_at_target() -> None:
    # Vectorized targets 0.5 then 0.502 of 10000 at 100: 50 units, then 50.2 -> 50 again.
    class Targets(Strategy):
        def signals(self, data: Any) -> Any:
            return np.array([0.5, 0.5, 0.502, 0.502])

    result = run_backtest(
        BacktestSpec(initial_cash=10_000.0), {"AAA": bars_from_rows([FLAT] * 4)}, Targets
    )
    first, resize = result.orders
    assert (first["status"], first["filled_units"]) == ("filled", 50.0)
    assert (resize["kind"], resize["status"], resize["reason"]) == (
        "target",
        "rejected",
        "already at target",
    )


def test_equity_counts_a_position_of_one_unit() -> None:
    # One unit held at 100: equity 9900 + 100 = 10000, half of it buys 50 more.
    script = {0: [("buy", {"units": 1})], 1: [("buy", {"fraction": 0.5})]}
    result = _run([FLAT] * 4, script)
    assert [o["filled_units"] for o in result.orders] == [1.0, 50.0]


def test_all_available_with_leverage_subtracts_a_one_unit_holding() -> None:
    # margin_initial 0.5: 10000 / 0.5 - 100 = 19900, 199 units at 100.
    script = {0: [("buy", {"units": 1})], 1: [("buy", {})]}
    result = _run([FLAT] * 4, script, margin_initial=0.5)
    assert [o["filled_units"] for o in result.orders] == [1.0, 199.0]


def test_all_available_subtracts_the_exposure_of_every_instrument() -> None:
    # margin_initial 0.5: AAA 10 and BBB 20 at 100 (exposure 3000), then all available for
    # AAA is 10000 / 0.5 - 3000 = 17000: 170 units.
    class Spread(Strategy):
        def next(self) -> None:
            if self.bar_index == 0:
                self.buy(units=10, symbol="AAA")
                self.buy(units=20, symbol="BBB")
            elif self.bar_index == 1:
                self.buy(symbol="AAA")

    bars = {s: bars_from_rows([FLAT] * 4, symbol=s) for s in ("AAA", "BBB")}
    spec = BacktestSpec(initial_cash=10_000.0, margin_initial=0.5)
    result = run_backtest(spec, bars, Spread)
    assert [o["filled_units"] for o in result.orders] == [10.0, 20.0, 170.0]


def test_adding_to_a_long_beyond_the_equity_is_rejected() -> None:
    # Long 50 at 100; 60 more would make an exposure of 11000 on 10000 of equity.
    script = {0: [("buy", {"units": 50})], 1: [("buy", {"units": 60})]}
    result = _run([FLAT] * 4, script)
    assert (result.orders[1]["status"], result.orders[1]["reason"]) == (
        "rejected",
        "insufficient funds: needs 11000.00, equity 10000.00",
    )


def test_an_entry_worth_exactly_the_minimum_fills() -> None:
    result = _run([FLAT] * 3, {0: [("buy", {"units": 5})]}, min_order_value=500.0)
    assert result.orders[0]["status"] == "filled"


def test_a_flip_to_the_same_size_does_not_increase_exposure_and_is_allowed() -> None:
    # margin_initial 0.5, no maintenance margin: 200 units at 100 on 10000 (cash -10000).
    # Bar 2 closes at 80 (equity 6000, under the 8000 initial margin of 16000). Selling 400
    # at 80 turns +200 into -200: the exposure stays 16000, so it is not checked. Cash
    # -10000 + 32000 = 22000, equity 22000 - 16000 = 6000.
    rows = [FLAT, FLAT, [100.0, 100.0, 80.0, 80.0], [80.0, 81.0, 79.0, 80.0], [80.0] * 4]
    script = {0: [("buy", {})], 2: [("sell", {"units": 400})]}
    result = _run(rows, script, allow_short=True, margin_initial=0.5, margin_maintenance=0.0)
    assert [o["filled_units"] for o in result.orders] == [200.0, -400.0]
    assert result.cash[-1] == 22_000.0
    assert result.equity[-1] == 6_000.0


def test_a_flip_whose_new_side_is_below_the_minimum_keeps_the_close_and_says_why() -> None:
    # Long 5; sell 300 of value with shorting on and a minimum of 500: the long closes (an
    # exit), then 3 units (300) are below the minimum.
    script = {0: [("buy", {"units": 5})], 1: [("sell", {"value": 300.0})]}
    result = _run([FLAT] * 4, script, allow_short=True, min_order_value=500.0)
    sell = result.orders[1]
    assert (sell["status"], sell["filled_units"]) == ("filled", -5.0)
    assert sell["reason"] == "partially filled: order value 300.00 below minimum 500.0"


def test_a_rejected_order_shows_no_fill() -> None:
    # 50 of value buys no unit at 100.
    result = _run([FLAT] * 3, {0: [("buy", {"value": 50.0})]})
    (order,) = result.orders
    assert (order["status"], order["reason"]) == ("rejected", "size rounds to zero")
    assert (order["fill_bar"], order["fill_price"], order["filled_units"]) == (None, None, 0.0)
    assert result.trades == ()


def test_closing_lots_of_a_fractional_lot_size_closes_all_of_them() -> None:
    # Lots of 0.1: buy 0.1 and 0.5; close() exits the whole position (0.6), both lots.
    script = {0: [("buy", {"units": 0.1})], 1: [("buy", {"units": 0.5})], 2: [("close", {})]}
    result = _run([FLAT] * 5, script, fractional_units=True, lot_size=0.1)
    assert [t["size"] for t in result.trades] == pytest.approx([0.1, 0.5])
    assert [t["open"] for t in result.trades] == [False, False]
    assert result.cash[-1] == pytest.approx(10_000.0)


def test_closing_half_of_two_units_closes_one() -> None:
    script = {0: [("buy", {"units": 2})], 1: [("close", {"fraction": 0.5})]}
    result = _run([FLAT] * 4, script)
    assert result.orders[1]["filled_units"] == -1.0
    assert sorted((t["size"], t["open"]) for t in result.trades) == [(1.0, False), (1.0, True)]


def test_a_sell_of_the_first_lot_leaves_the_second_untouched() -> None:
    # Lots of 3 and 4; selling 3 closes the first whole and nothing of the second.
    script = {0: [("buy", {"units": 3})], 1: [("buy", {"units": 4})], 2: [("sell", {"units": 3})]}
    result = _run(RISING, script)
    assert [(t["id"], t["size"], t["open"]) for t in result.trades] == [
        (1, 3.0, False),
        (2, 4.0, True),
    ]


def test_a_stop_loss_closes_its_own_trade_not_the_oldest_lot() -> None:
    # Trade 1 (bar 1, stop-loss 90, tag "first") and trade 2 (bar 2, stop-loss 98, tag
    # "second"), one unit each at 100. Bar 3 dips to 97: trade 2's stop fills at 98;
    # trade 1 stays open.
    script = {
        0: [("buy", {"units": 1, "sl": 90.0, "tag": "first"})],
        1: [("buy", {"units": 1, "sl": 98.0, "tag": "second"})],
    }
    rows = [FLAT, FLAT, FLAT, [99.0, 99.5, 97.0, 98.0], FLAT]
    result = _run(rows, script)
    closed, still_open = result.trades
    assert (closed["id"], closed["tag"], closed["symbol"], closed["entry_bar"]) == (
        2,
        "second",
        "AAA",
        2,
    )
    assert (closed["exit_bar"], closed["exit_price"], closed["exit_reason"]) == (
        3,
        98.0,
        "stop_loss",
    )
    assert (still_open["id"], still_open["tag"], still_open["open"]) == (1, "first", True)


def test_a_margin_call_on_a_small_account_with_under_one_of_exposure() -> None:
    # 1.00 of cash, short 1 unit at 0.40 (cash 1.40). Bar 2 closes at 0.95: equity
    # 1.40 - 0.95 = 0.45 < 0.5 * 0.95 = 0.475: liquidated at 0.95, cash 0.45.
    low = [0.4, 0.41, 0.39, 0.4]
    rows = [low, low, [0.4, 0.96, 0.39, 0.95], low]
    result = _run(rows, {0: [("sell", {"units": 1})]}, initial_cash=1.0, allow_short=True)
    assert result.orders[-1]["kind"] == "liquidation"
    assert result.orders[-1]["fill_bar"] == 2
    assert result.cash[-1] == pytest.approx(0.45)


def test_a_flat_account_under_water_has_no_margin_call_and_lacks_funds() -> None:
    # Short 100 at 100 (cash 20000). Bar 2 closes at 110 (equity 9000, above 0.5 * 11000);
    # the strategy closes, and bar 3 opens at 250: bought back, cash -5000, flat. Nothing is
    # held, so no margin call; a buy of 1 at 250 then needs 250 of -5000 equity.
    rows = [FLAT, FLAT, [100.0, 110.0, 99.0, 110.0], [250.0, 251.0, 249.0, 250.0], [250.0] * 4]
    script = {0: [("sell", {"units": 100})], 2: [("close", {})], 3: [("buy", {"units": 1})]}
    result = _run(rows, script, allow_short=True)
    assert [o["kind"] for o in result.orders] == ["market", "close", "market"]
    assert (result.orders[2]["status"], result.orders[2]["reason"]) == (
        "rejected",
        "insufficient funds: needs 250.00, equity -5000.00",
    )
    assert result.cash[-1] == -5_000.0


def test_a_fractional_long_owes_no_borrow_when_another_instrument_is_short() -> None:
    # AAA long 0.5, BBB short 10 at 100 with 36.525 % a year: 1.0 per daily bar on BBB only.
    class LongAndShort(Strategy):
        def next(self) -> None:
            if self.bar_index == 0:
                self.buy(units=0.5, symbol="AAA")
                self.sell(units=10, symbol="BBB")

    bars = {s: bars_from_rows([FLAT] * 4, symbol=s) for s in ("AAA", "BBB")}
    spec = BacktestSpec(
        initial_cash=10_000.0,
        allow_short=True,
        fractional_units=True,
        borrow_rate_annual=0.36525,
    )
    result = run_backtest(spec, bars, LongAndShort)
    by_symbol = {t["symbol"]: t for t in result.trades}
    assert by_symbol["AAA"]["borrow_cost"] == 0.0
    assert by_symbol["BBB"]["borrow_cost"] == pytest.approx(3.0)
    assert result.cash[-1] == pytest.approx(10_000.0 - 50.0 + 1_000.0 - 3.0)


def test_an_all_in_fractional_buy_is_not_refused_for_float_rounding() -> None:
    # Fractional units, 0.5 bps slippage, 0.5 fixed fee, 10000 at 194.25: all available
    # buys (10000 - 0.5) / (194.25 * 1.00005) = 51.4749... units, spending the equity to the
    # cent. The margin check recomputes that equity in another order of operations, which
    # lands 2e-12 short of the exposure; such rounding must not refuse the order.
    price = [194.25, 195.0, 194.0, 194.25]
    costs = CostModel(slippage_bps=0.5, commission_fixed=0.5)
    result = _run([price] * 3, {0: [("buy", {})]}, fractional_units=True, costs=costs)
    (order,) = result.orders
    assert order["status"] == "filled"
    assert order["filled_units"] == pytest.approx(9_999.5 / (194.25 * 1.00005))
    assert result.cash[1] == pytest.approx(0.0, abs=1e-6)


def test_a_maintenance_margin_above_one_calls_a_long_only_account() -> None:
    # margin_initial 2, margin_maintenance 1.5, no shorts, no borrowed cash. 50 units at 100
    # need 2 * 5000 = 10000 of 10000: cash 5000. Bar 2 closes at 300: equity 5000 + 15000 =
    # 20000 < 1.5 * 15000 = 22500: liquidated at 300, cash 20000. The vectorized run of the
    # same position (half the equity) ends the same way.
    rows = [FLAT, FLAT, [100.0, 300.0, 99.0, 300.0], [300.0] * 4]
    spec: dict[str, Any] = {"margin_initial": 2.0, "margin_maintenance": 1.5}
    event = _run(rows, {0: [("buy", {"units": 50})]}, **spec)

    class Half(Strategy):
        def signals(self, data: Any) -> Any:
            return np.full(4, 0.5)

    vectorized = run_backtest(
        BacktestSpec(initial_cash=10_000.0, **spec), {"AAA": bars_from_rows(rows)}, Half
    )
    for result in (event, vectorized):
        calls = [o for o in result.orders if o["kind"] == "liquidation"]
        assert [(o["fill_bar"], o["fill_price"], o["filled_units"]) for o in calls] == [
            (2, 300.0, -50.0)
        ]
        assert result.cash.tolist() == [10_000.0, 5_000.0, 20_000.0, 20_000.0]
