"""The broker's accounting worked out by hand on a few bars (docs/strategy-guide.md).

Each case is one rule of the fill model, costs or risk, with every figure computed from the
documented formulas: execution price = market * (1 +/- impact), impact = half the spread plus
slippage; commission = max(fixed + pct * notional, minimum); borrow = short value * annual
rate * elapsed / 365.25 days, charged at each close; maintenance margin checked at the close.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from backtesting.engine import BacktestSpec, BarSeries, CostModel, Strategy, run_backtest
from backtesting.engine.broker import units_history
from backtesting.engine.orders import OrderView
from tests.engine.helpers import EPOCH_2024, bars_from_rows

FLAT = [100.0, 101.0, 99.0, 100.0]


def _run(rows: list[list[float]], strategy: type[Strategy], **spec: Any) -> Any:
    spec.setdefault("initial_cash", 10_000.0)
    return run_backtest(BacktestSpec(**spec), {"AAA": bars_from_rows(rows)}, strategy)


def _on_bar(actions: dict[int, Any]) -> type[Strategy]:
    class Scripted(Strategy):
        def next(self) -> None:
            action = actions.get(self.bar_index)
            if action is not None:
                action(self)

    return Scripted


def test_costs_and_impact_on_a_round_trip() -> None:
    # 10 bps slippage, 0.1 % commission. Buy 10 at open 100: pays 100.1, fee 1.001,
    # cash 10000 - 1001 - 1.001 = 8997.999. Sell 10 at open 100: gets 99.9, fee 0.999,
    # cash 8997.999 + 999 - 0.999 = 9996.0.
    costs = CostModel(commission_pct=0.001, slippage_bps=10.0)
    strategy = _on_bar({0: lambda s: s.buy(units=10), 1: lambda s: s.close()})
    result = _run([FLAT] * 3, strategy, costs=costs)
    assert result.cash.tolist() == pytest.approx([10_000.0, 8_997.999, 9_996.0], abs=1e-9)
    (trade,) = result.trades
    assert (trade["entry_price"], trade["exit_price"]) == pytest.approx((100.1, 99.9))
    assert trade["commission"] == pytest.approx(2.0)
    assert trade["net_pnl"] == pytest.approx(-4.0)
    buy, sell = result.orders
    assert (buy["market_price"], buy["fill_price"], buy["commission"]) == pytest.approx(
        (100.0, 100.1, 1.001)
    )
    assert (sell["side"], sell["kind"], sell["filled_units"]) == ("sell", "close", -10.0)


def test_the_spread_costs_half_per_side() -> None:
    # A 20 bps spread: 10 bps per side, 100.1 to buy.
    result = _run(
        [FLAT] * 3, _on_bar({0: lambda s: s.buy(units=1)}), costs=CostModel(spread_bps=20)
    )
    assert result.trades[0]["entry_price"] == pytest.approx(100.1)


def test_a_partial_close_rounds_down_to_the_lot_first_in_first_out() -> None:
    # 7 units, close half: 3.5 rounds down to 3; 4 stay open.
    strategy = _on_bar({0: lambda s: s.buy(units=7), 1: lambda s: s.close(fraction=0.5)})
    result = _run([FLAT] * 3, strategy)
    closed = [t for t in result.trades if not t["open"]]
    still_open = [t for t in result.trades if t["open"]]
    assert [t["size"] for t in closed] == [3.0]
    assert [t["size"] for t in still_open] == [4.0]


def test_closing_without_a_position_is_cancelled() -> None:
    result = _run([FLAT] * 3, _on_bar({0: lambda s: s.close()}))
    (order,) = result.orders
    assert (order["status"], order["reason"]) == ("cancelled", "no position to close")


@pytest.mark.parametrize(
    ("spec", "units", "reason"),
    [
        ({"min_order_value": 500.0}, 4, "order value 400.00 below minimum 500.0"),
        ({"initial_cash": 1_000.0}, 11, "insufficient funds: needs 1100.00, equity 1000.00"),
    ],
)
def test_rejections_say_why(spec: dict[str, Any], units: int, reason: str) -> None:
    result = _run([FLAT] * 3, _on_bar({0: lambda s: s.buy(units=units)}), **spec)
    (order,) = result.orders
    assert (order["status"], order["reason"]) == ("rejected", reason)
    assert result.trades == ()
    assert result.cash[-1] == spec.get("initial_cash", 10_000.0)


def test_selling_without_a_position_is_rejected_when_shorting_is_off() -> None:
    for action in (lambda s: s.sell(units=1), lambda s: s.sell()):
        result = _run([FLAT] * 3, _on_bar({0: action}))
        (order,) = result.orders
        assert (order["status"], order["reason"]) == ("rejected", "shorting disabled")


def test_a_sell_larger_than_the_long_position_is_trimmed_to_it() -> None:
    strategy = _on_bar({0: lambda s: s.buy(units=5), 1: lambda s: s.sell(units=8)})
    result = _run([FLAT] * 3, strategy)
    assert result.orders[1]["filled_units"] == -5.0
    assert [t["open"] for t in result.trades] == [False]


def test_a_day_order_expires_after_its_session() -> None:
    strategy = _on_bar({0: lambda s: s.buy(units=1, limit=50.0, tif="day")})
    result = _run([FLAT] * 4, strategy)
    (order,) = result.orders
    assert (order["status"], order["reason"]) == ("expired", "day order not filled in its session")


def test_a_stop_limit_fills_at_its_trigger_inside_the_limit() -> None:
    # Bar 1 rises through 105 (limit 106): fills at the trigger, 105.
    rows = [FLAT, [100.0, 110.0, 99.0, 108.0], FLAT]
    result = _run(rows, _on_bar({0: lambda s: s.buy(units=1, stop=105.0, limit=106.0)}))
    assert result.orders[0]["fill_price"] == 105.0


def test_a_stop_limit_triggered_beyond_its_limit_waits_as_a_limit_order() -> None:
    # Bar 1 triggers at 105 above the 104 limit: no fill. Bar 2 opens at 103 <= 104: fills at
    # the open, 103.
    rows = [FLAT, [100.0, 110.0, 99.0, 108.0], [103.0, 104.0, 101.0, 102.0], FLAT]
    result = _run(rows, _on_bar({0: lambda s: s.buy(units=1, stop=105.0, limit=104.0)}))
    order = result.orders[0]
    assert (order["fill_bar"], order["fill_price"]) == (2, 103.0)


def test_stop_and_take_profit_in_one_bar_assume_the_stop() -> None:
    # Entry at bar 1's open (100); bar 2 reaches both 95 and 110: the stop, flagged ambiguous.
    rows = [FLAT, FLAT, [100.0, 111.0, 94.0, 100.0], FLAT]
    result = _run(rows, _on_bar({0: lambda s: s.buy(units=1, sl=95.0, tp=110.0)}))
    (trade,) = result.trades
    assert (trade["exit_price"], trade["exit_reason"], trade["ambiguous"]) == (
        95.0,
        "stop_loss",
        True,
    )
    tp = next(o for o in result.orders if o["kind"] == "take_profit")
    assert (tp["status"], tp["reason"]) == ("cancelled", "trade closed (one-cancels-other)")


def test_take_profit_alone_fills_at_its_limit() -> None:
    rows = [FLAT, FLAT, [100.0, 111.0, 99.0, 100.0], FLAT]
    result = _run(rows, _on_bar({0: lambda s: s.buy(units=1, sl=95.0, tp=110.0)}))
    (trade,) = result.trades
    assert (trade["exit_price"], trade["exit_reason"], trade["ambiguous"]) == (
        110.0,
        "take_profit",
        False,
    )


def test_a_trailing_stop_moves_at_the_close_and_fills_at_its_level() -> None:
    # 10 % trail. Entry at bar 1's open 100: level 90. Bar 1's high 110 moves it, at the close,
    # to 99. Bar 2 opens at 105 and falls to 98: out at 99.
    rows = [FLAT, [100.0, 110.0, 100.0, 108.0], [105.0, 106.0, 98.0, 100.0], FLAT]
    result = _run(rows, _on_bar({0: lambda s: s.buy(units=1, trail=0.1)}))
    (trade,) = result.trades
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == (
        2,
        pytest.approx(99.0),
        "trailing_stop",
    )


def test_a_short_pays_borrow_at_each_close() -> None:
    # Short 10 at 100 with a 36.525 % annual rate on daily bars: 1000 * 0.36525 / 365.25 = 1.0
    # per bar, charged at the closes of bars 1, 2 and 3. Cash 10000 + 1000 - 3 = 10997.
    strategy = _on_bar({0: lambda s: s.sell(units=10)})
    result = _run([FLAT] * 4, strategy, allow_short=True, borrow_rate_annual=0.36525)
    assert result.cash.tolist() == pytest.approx([10_000.0, 10_999.0, 10_998.0, 10_997.0])
    (trade,) = result.trades
    assert trade["borrow_cost"] == pytest.approx(3.0)
    assert trade["direction"] == "short"


def test_a_margin_call_liquidates_at_the_close() -> None:
    # Short 90 at 100 (margin 100 %: needs 9000 of 10000). Bar 2 closes at 160: equity
    # 10000 + 9000 - 90 * 160 = 4600 below half the exposure (7200): closed at 160.
    rows = [FLAT, FLAT, [100.0, 161.0, 99.0, 160.0], FLAT]
    result = _run(rows, _on_bar({0: lambda s: s.sell(units=90)}), allow_short=True)
    (trade,) = result.trades
    assert (trade["exit_bar"], trade["exit_price"], trade["open"]) == (2, 160.0, False)
    assert result.cash[-1] == pytest.approx(10_000.0 + 9_000.0 - 14_400.0)
    liquidation = result.orders[-1]
    assert liquidation["kind"] == "liquidation"


def test_buying_while_short_closes_then_opens() -> None:
    # Short 5, then buy with a fraction: the short is closed first (one fill), then 10 % of
    # equity (10000, nothing lost on flat bars) buys 10 units at 100.
    strategy = _on_bar({0: lambda s: s.sell(units=5), 1: lambda s: s.buy(fraction=0.1)})
    result = _run([FLAT] * 4, strategy, allow_short=True)
    short, long_ = result.trades
    assert (short["size"], short["open"]) == (-5.0, False)
    assert (long_["size"], long_["open"]) == (10.0, True)
    assert result.orders[1]["filled_units"] == 15.0


def _margin_call_run(close: float, units: int = 80, then: Any = None) -> Any:
    # Short `units` at 100 from 10000 cash; bar 2 closes at `close`; a pending far-away limit
    # order waits meanwhile (a margin call cancels it).
    actions = {
        0: lambda s: s.sell(units=units),
        1: lambda s: s.buy(units=1, limit=1.0),
    }
    if then is not None:
        actions[3] = then
    rows = [FLAT, FLAT, [100.0, close, 99.0, close], FLAT, FLAT]
    return _run(rows, _on_bar(actions), allow_short=True)


def test_equity_exactly_at_the_maintenance_margin_is_no_margin_call() -> None:
    # 80 short at 100: cash 18000. At 150: equity 18000 - 12000 = 6000 = 0.5 * 12000.
    result = _margin_call_run(150.0)
    assert [o["kind"] for o in result.orders] == ["market", "limit"]
    assert result.trades[0]["open"] is True


def test_a_margin_call_closes_every_position_and_cancels_pending_orders() -> None:
    # At 150.5: equity 18000 - 12040 = 5960 < 6020.
    result = _margin_call_run(150.5)
    short, limit, liquidation = result.orders
    reason = "margin call: equity below maintenance margin"
    assert (short["status"], short["filled_units"]) == ("filled", -80.0)
    assert (limit["status"], limit["reason"]) == ("cancelled", reason)
    assert (
        liquidation["kind"],
        liquidation["symbol"],
        liquidation["side"],
        liquidation["placed_bar"],
        liquidation["fill_bar"],
        liquidation["filled_units"],
        liquidation["fill_price"],
        liquidation["reason"],
    ) == ("liquidation", "AAA", "buy", 2, 2, 80.0, 150.5, reason)
    assert result.trades[0]["exit_reason"] == "liquidation"
    assert result.cash[-1] == pytest.approx(18_000.0 - 80 * 150.5)


def test_an_account_left_with_a_little_equity_by_a_margin_call_is_not_depleted() -> None:
    # 100 short at 100: cash 20000. At 199.995 equity is 20000 - 19999.5 = 0.5 > 0: the
    # account goes on, and a buy of 1 at 100 is refused for want of funds, not as depleted.
    result = _margin_call_run(199.995, units=100, then=lambda s: s.buy(units=1))
    assert result.cash[-1] == pytest.approx(0.5)
    last = result.orders[-1]
    assert (last["status"], last["reason"]) == (
        "rejected",
        "insufficient funds: needs 100.00, equity 0.50",
    )


@pytest.mark.parametrize(("close", "halted"), [(200.0, True), (199.0, False)])
def test_an_account_wiped_out_by_a_margin_call_takes_no_more_orders(
    close: float, halted: bool
) -> None:
    # 100 short at 100: cash 20000. At 200 equity is 20000 - 20000 = 0: depleted; at 199, 100.
    result = _margin_call_run(close, units=100, then=lambda s: s.buy(units=1))
    last = result.orders[-1]
    if halted:
        assert (last["status"], last["reason"]) == ("rejected", "account depleted")
    else:
        assert last["status"] == "filled"


def test_borrow_is_charged_on_every_short_instrument_and_split_over_its_lots() -> None:
    # AAA long 10, BBB short 4 then 6 more: 1000 of BBB short value at 36.525 % a year is 1.0
    # per daily bar, split 40/60 over BBB's two lots; nothing is charged for AAA.
    class LongAndShort(Strategy):
        def next(self) -> None:
            if self.bar_index == 0:
                self.buy(units=10, symbol="AAA")
                self.sell(units=4, symbol="BBB")
            elif self.bar_index == 1:
                self.sell(units=6, symbol="BBB")

    bars = {
        "AAA": bars_from_rows([FLAT] * 4, symbol="AAA"),
        "BBB": bars_from_rows([FLAT] * 4, symbol="BBB"),
    }
    spec = BacktestSpec(initial_cash=10_000.0, allow_short=True, borrow_rate_annual=0.36525)
    result = run_backtest(spec, bars, LongAndShort)
    by_size = {t["size"]: t for t in result.trades}
    # Bar 1: 400 short -> 0.4; bars 2 and 3: 1000 short -> 1.0 each, 0.4 and 0.6 per lot.
    assert by_size[10.0]["borrow_cost"] == 0.0
    assert by_size[-4.0]["borrow_cost"] == pytest.approx(0.4 + 0.4 + 0.4)
    assert by_size[-6.0]["borrow_cost"] == pytest.approx(0.6 + 0.6)
    assert result.cash[-1] == pytest.approx(10_000.0 - 1_000.0 + 1_000.0 - 2.4)


def test_split_lots_get_their_own_trade_ids() -> None:
    strategy = _on_bar({0: lambda s: s.buy(units=7), 1: lambda s: s.close(fraction=0.5)})
    result = _run([FLAT] * 3, strategy)
    assert sorted(t["id"] for t in result.trades) == [1, 2]


def test_a_day_order_that_fills_in_its_session_is_filled_and_gtc_orders_live_on() -> None:
    def place(s: Strategy) -> None:
        s.buy(units=1, limit=100.0, tif="day")  # bar 1 opens at 100: fills there
        s.buy(units=1, limit=50.0)  # never reached, good till cancelled
        s.buy(units=1, limit=50.0, tif="day")  # never reached: expires

    result = _run([FLAT] * 4, _on_bar({0: place}))
    filled, gtc, day = result.orders
    assert (filled["status"], filled["fill_bar"]) == ("filled", 1)
    assert (gtc["status"], gtc["reason"]) == ("cancelled", "end of data")
    assert day["status"] == "expired"


@pytest.mark.parametrize(
    ("stop", "limit", "fill"),
    [
        (95.0, 94.0, 95.0),  # triggered at 95, inside a sell limit of 94
        (95.0, 95.0, 95.0),  # at the limit itself
        (95.0, 96.0, None),  # triggered below the sell limit: waits (and the bar never returns)
    ],
)
def test_a_sell_stop_limit_fills_at_its_trigger_only_inside_the_limit(
    stop: float, limit: float, fill: float | None
) -> None:
    rows = [FLAT, FLAT, [100.0, 100.5, 90.0, 92.0], [92.0, 93.0, 91.0, 92.0]]
    strategy = _on_bar(
        {0: lambda s: s.buy(units=1), 1: lambda s: s.sell(units=1, stop=stop, limit=limit)}
    )
    exit_order = _run(rows, strategy).orders[1]
    if fill is None:
        assert exit_order["status"] == "cancelled"
    else:
        assert (exit_order["fill_bar"], exit_order["fill_price"]) == (2, fill)


def test_a_buy_stop_limit_at_its_limit_fills() -> None:
    rows = [FLAT, [100.0, 110.0, 99.0, 108.0], FLAT]
    result = _run(rows, _on_bar({0: lambda s: s.buy(units=1, stop=105.0, limit=105.0)}))
    assert result.orders[0]["fill_price"] == 105.0


def test_a_vectorized_target_resize_sells_the_difference() -> None:
    # Target 100 % then 50 % of 10000 at 100: 100 units, then down to 50.
    class Resize(Strategy):
        def signals(self, data: Any) -> Any:
            return np.array([1.0, 0.5, 0.5, 0.5])

    result = _run([FLAT] * 4, Resize)
    fills = [(o["fill_bar"], o["filled_units"]) for o in result.orders if o["status"] == "filled"]
    assert fills == [(1, 100.0), (2, -50.0)]
    sizes = sorted((t["size"], t["open"]) for t in result.trades)
    assert sizes == [(50.0, False), (50.0, True)]


def test_units_history_is_the_position_after_each_bar() -> None:
    # Two fills on bar 1 (the last wins), one on bar 3.
    history = units_history([(1, 5.0), (1, 3.0), (3, -2.0)], 5)
    assert history.tolist() == [0.0, 3.0, 3.0, -2.0, -2.0]
    assert units_history([(0, 2.0), (2, 0.0)], 3).tolist() == [2.0, 2.0, 0.0]
    assert units_history([], 3).tolist() == [0.0, 0.0, 0.0]


def test_a_short_trailing_stop_follows_the_low_at_the_close() -> None:
    # Short at bar 1's open 100 with a 10 % trail: level 110. Bar 1's low 90 moves it, at the
    # close, to 99. Bar 2 opens at 95 and rises to 100: bought back at 99.
    rows = [FLAT, [100.0, 101.0, 90.0, 92.0], [95.0, 100.0, 94.0, 96.0], FLAT]
    strategy = _on_bar({0: lambda s: s.sell(units=1, trail=0.1)})
    result = _run(rows, strategy, allow_short=True)
    (trade,) = result.trades
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == (
        2,
        pytest.approx(99.0),
        "trailing_stop",
    )


def test_a_partial_close_that_rounds_to_nothing_is_rejected() -> None:
    # 10 % of 5 units is 0.5, rounded down to the lot: 0.
    strategy = _on_bar({0: lambda s: s.buy(units=5), 1: lambda s: s.close(fraction=0.1)})
    result = _run([FLAT] * 3, strategy)
    close = result.orders[1]
    assert (close["status"], close["reason"]) == ("rejected", "size rounds to zero")
    assert [t["size"] for t in result.trades] == [5.0]


def _bracket_exit(rows: list[list[float]], side: str = "buy", **exits: float) -> Any:
    # One unit entered at bar 1's open (100) with the given exits; returns the trade.
    action = (
        (lambda s: s.buy(units=1, **exits))
        if side == "buy"
        else (lambda s: s.sell(units=1, **exits))
    )
    (trade,) = _run(rows, _on_bar({0: action}), allow_short=side == "sell").trades
    return trade


def test_a_gap_past_the_take_profit_fills_it_at_the_open_without_ambiguity() -> None:
    # Bar 2 opens at 111 above the 110 take-profit (a better price) and later falls to 94,
    # under the stop-loss: the open came first, so the take-profit, at 111.
    trade = _bracket_exit([FLAT, FLAT, [111.0, 112.0, 94.0, 100.0], FLAT], sl=95.0, tp=110.0)
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == (
        2,
        111.0,
        "take_profit",
    )
    assert trade["ambiguous"] is False


def test_a_gap_through_the_stop_loss_fills_it_at_the_open_without_ambiguity() -> None:
    # Bar 2 opens at 94 under the 95 stop-loss (a worse price) and later rises to 111: at 94.
    trade = _bracket_exit([FLAT, FLAT, [94.0, 111.0, 93.0, 100.0], FLAT], sl=95.0, tp=110.0)
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == (
        2,
        94.0,
        "stop_loss",
    )
    assert trade["ambiguous"] is False


# Bar 1 (the entry bar, at 100) neither raises a long's trailing level nor lowers a short's.
STILL = [100.0, 100.0, 100.0, 100.0]


@pytest.mark.parametrize(
    ("side", "bar"), [("buy", [99.0, 99.5, 94.0, 96.0]), ("sell", [101.0, 106.0, 100.5, 104.0])]
)
def test_a_stop_loss_and_a_trailing_stop_at_one_level_fill_as_the_stop_loss(
    side: str, bar: list[float]
) -> None:
    # Entry at 100; a 5 % trail starts at 95 (long) or 105 (short), where the stop-loss is.
    sl = 95.0 if side == "buy" else 105.0
    trade = _bracket_exit([FLAT, STILL, bar, FLAT], side, sl=sl, trail=0.05)
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == (
        2,
        sl,
        "stop_loss",
    )


@pytest.mark.parametrize(
    ("side", "exits", "bar", "price", "reason"),
    [
        # Long at 100: trail 5 % -> 95, stop-loss 92. The low of 93 reaches only the trail.
        ("buy", {"sl": 92.0, "trail": 0.05}, [99.0, 99.5, 93.0, 94.0], 95.0, "trailing_stop"),
        # Stop-loss 97 above the trail's 95: the low of 96 reaches only the stop-loss.
        ("buy", {"sl": 97.0, "trail": 0.05}, [99.0, 99.5, 96.0, 97.0], 97.0, "stop_loss"),
        # Short at 100: trail -> 105, stop-loss 108. The high of 106 reaches only the trail.
        (
            "sell",
            {"sl": 108.0, "trail": 0.05},
            [101.0, 106.0, 100.5, 105.0],
            105.0,
            "trailing_stop",
        ),
        # Stop-loss 103 below the trail's 105: the high of 104 reaches only the stop-loss.
        ("sell", {"sl": 103.0, "trail": 0.05}, [101.0, 104.0, 100.5, 102.0], 103.0, "stop_loss"),
    ],
)
def test_the_tighter_of_a_stop_loss_and_a_trailing_stop_applies(
    side: str, exits: dict[str, float], bar: list[float], price: float, reason: str
) -> None:
    trade = _bracket_exit([FLAT, STILL, bar, FLAT], side, **exits)
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == pytest.approx(
        (2, price, reason)
    )


def _two_instruments(bbb_rows: list[list[float]], bbb_missing: int) -> dict[str, BarSeries]:
    # AAA trades every day; BBB has no bar on day `bbb_missing`.
    n = len(bbb_rows)
    aaa = bars_from_rows([FLAT] * n, symbol="AAA")
    keep = [k for k in range(n) if k != bbb_missing]
    full = bars_from_rows(bbb_rows, symbol="BBB")
    bbb = BarSeries(
        "BBB",
        full.timestamps[keep],
        full.open[keep],
        full.high[keep],
        full.low[keep],
        full.close[keep],
        full.volume[keep],
    )
    return {"AAA": aaa, "BBB": bbb}


def test_a_trailing_stop_waits_for_its_instruments_next_bar() -> None:
    # BBB bought at bar 1's open (100) with a 5 % trail; bar 1's high (110) moves the level
    # to 104.5 at the close. BBB has no bar 2 (its prices carry 100 forward, under the level,
    # but nothing fills there); bar 3 opens at 106 and falls to 103: out at 104.5.
    rows = [FLAT, [100.0, 110.0, 99.0, 100.0], FLAT, [106.0, 107.0, 103.0, 104.0], FLAT]

    class Trail(Strategy):
        def next(self) -> None:
            if self.bar_index == 0:
                self.buy(units=1, trail=0.05, symbol="BBB")

    spec = BacktestSpec(initial_cash=10_000.0)
    (trade,) = run_backtest(spec, _two_instruments(rows, 2), Trail).trades
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == pytest.approx(
        (3, 104.5, "trailing_stop")
    )


def test_a_limit_order_waits_for_its_instruments_next_bar() -> None:
    # A buy limit at 100.5 placed on bar 1: BBB has no bar 2 (carried at 100, under the
    # limit, but no fill there); bar 3 opens at 101 and dips to 100.2: filled at 100.5.
    rows = [FLAT, FLAT, FLAT, [101.0, 102.0, 100.2, 101.0], FLAT]

    class Limit(Strategy):
        def next(self) -> None:
            if self.bar_index == 1:
                self.buy(units=1, limit=100.5, symbol="BBB")

    spec = BacktestSpec(initial_cash=10_000.0)
    (order,) = run_backtest(spec, _two_instruments(rows, 2), Limit).orders
    assert (order["fill_bar"], order["fill_price"]) == (3, 100.5)


def test_a_same_close_market_order_waits_for_its_instruments_next_open() -> None:
    # fill_mode same_close: BBB has no bar 2, so a buy placed on bar 2 cannot fill at its
    # (carried) close; it fills at bar 3's open, 101.
    rows = [FLAT, FLAT, FLAT, [101.0, 102.0, 100.2, 101.5], FLAT]

    class Buy(Strategy):
        def next(self) -> None:
            if self.bar_index == 2:
                self.buy(units=1, symbol="BBB")

    spec = BacktestSpec(initial_cash=10_000.0, fill_mode="same_close")
    (order,) = run_backtest(spec, _two_instruments(rows, 2), Buy).orders
    assert (order["fill_bar"], order["fill_price"]) == (3, 101.0)


def test_a_day_order_lives_until_the_end_of_its_utc_day_on_intraday_bars() -> None:
    # Hourly bars from 21:00 UTC: bars 1 and 2 (22:00, 23:00) are the day orders' session.
    # The 98 limit is reached at 23:00 and fills; the 97 limit only at 00:00 the next day,
    # after its session: it expires at that bar's open.
    hour = 3_600 * 10**9
    start = EPOCH_2024 + 21 * hour
    rows = [FLAT, FLAT, [99.0, 99.5, 97.5, 99.0], [98.0, 98.5, 96.0, 97.0], FLAT]
    arr = np.asarray(rows)
    ts = start + np.arange(len(rows), dtype=np.int64) * hour
    bars = BarSeries("AAA", ts, arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], np.ones(len(rows)))

    def place(s: Strategy) -> None:
        s.buy(units=1, limit=98.0, tif="day")
        s.buy(units=1, limit=97.0, tif="day")

    result = run_backtest(BacktestSpec(initial_cash=10_000.0), {"AAA": bars}, _on_bar({0: place}))
    filled, expired = result.orders
    assert (filled["status"], filled["fill_bar"], filled["fill_price"]) == ("filled", 2, 98.0)
    assert (expired["status"], expired["reason"]) == (
        "expired",
        "day order not filled in its session",
    )


def test_a_margin_call_closes_a_long_and_a_short_at_their_closes_with_costs() -> None:
    # margin_initial 0.5, 0.1 % commission. Bar 1: AAA long 1 at 100 (fee 0.1), BBB short
    # 100 at 100 (10000, fee 10): cash 10000 - 100.1 + 9990 = 19889.9. Bar 2 closes BBB at
    # 150: equity 19889.9 + 100 - 15000 = 4989.9 < 0.5 * (100 + 15000). Both are closed at
    # that close: AAA sold 1 at 100 (fee 0.1), BBB bought 100 at 150 (fee 15).
    class Pair(Strategy):
        def next(self) -> None:
            if self.bar_index == 0:
                self.buy(units=1, symbol="AAA")
                self.sell(units=100, symbol="BBB")

    bars = {
        "AAA": bars_from_rows([FLAT] * 4, symbol="AAA"),
        "BBB": bars_from_rows([FLAT, FLAT, [100.0, 151.0, 99.0, 150.0], FLAT], symbol="BBB"),
    }
    spec = BacktestSpec(
        initial_cash=10_000.0,
        allow_short=True,
        margin_initial=0.5,
        costs=CostModel(commission_pct=0.001),
    )
    result = run_backtest(spec, bars, Pair)
    calls = [o for o in result.orders if o["kind"] == "liquidation"]
    assert [
        (o["symbol"], o["side"], o["filled_units"], o["fill_price"], o["fill_bar"]) for o in calls
    ] == [("AAA", "sell", -1.0, 100.0, 2), ("BBB", "buy", 100.0, 150.0, 2)]
    assert [o["commission"] for o in calls] == pytest.approx([0.1, 15.0])
    assert result.cash[-1] == pytest.approx(19_889.9 + 100.0 - 0.1 - 15_000.0 - 15.0)
    assert all(not t["open"] and t["exit_reason"] == "liquidation" for t in result.trades)


def test_a_market_entrys_stop_loss_is_live_in_its_fill_bar() -> None:
    # Bought at bar 1's open (100): the later low of 94 passes the 95 stop-loss.
    trade = _bracket_exit([FLAT, [100.0, 101.0, 94.0, 96.0], FLAT], sl=95.0)
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == (
        1,
        95.0,
        "stop_loss",
    )


def test_a_stop_loss_the_strategy_cancelled_never_fills() -> None:
    class CancelTheStop(Strategy):
        def next(self) -> None:
            if self.bar_index == 0:
                self.buy(units=1, sl=95.0, tp=110.0)
            elif self.bar_index == 1:
                stops: list[OrderView] = [o for o in self.orders if o.kind == "stop_loss"]
                for order in stops:
                    order.cancel()

    rows = [FLAT, FLAT, [100.0, 101.0, 94.0, 96.0], FLAT]
    result = _run(rows, CancelTheStop)
    (trade,) = result.trades
    assert trade["open"] is True
    stop = next(o for o in result.orders if o["kind"] == "stop_loss")
    assert (stop["status"], stop["reason"]) == ("cancelled", "cancelled by strategy")


def test_a_trailing_stop_and_take_profit_both_passed_at_the_open_fill_there_as_the_stop() -> None:
    # A buy limit at 98 fills inside bar 1 (so its exits start on bar 2); bar 1's high (110)
    # moves the 1 % trail to 108.9 at the close, above the 103 take-profit. Bar 2 opens at
    # 105, past both: one price, nothing to doubt; the stop is reached, so the stop.
    rows = [FLAT, [100.0, 110.0, 97.0, 105.0], [105.0, 106.0, 104.0, 105.0], FLAT]
    strategy = _on_bar({0: lambda s: s.buy(units=1, limit=98.0, tp=103.0, trail=0.01)})
    (trade,) = _run(rows, strategy).trades
    assert (trade["entry_bar"], trade["entry_price"]) == (1, 98.0)
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == (
        2,
        105.0,
        "trailing_stop",
    )
    assert trade["ambiguous"] is False


def test_a_trailing_stop_moves_at_every_close() -> None:
    # 10 % trail from 100: 90; bar 1's high 110 -> 99; bar 2's high 120 -> 108; bar 3 opens
    # at 115 and falls to 105: out at 108.
    rows = [
        FLAT,
        [100.0, 110.0, 100.0, 108.0],
        [108.0, 120.0, 107.0, 118.0],
        [115.0, 116.0, 105.0, 106.0],
        FLAT,
    ]
    trade = _bracket_exit(rows, trail=0.1)
    assert (trade["exit_bar"], trade["exit_price"]) == (3, pytest.approx(108.0))


def test_a_trailing_stop_keeps_trailing_after_another_trades_trail_closed() -> None:
    # Both bought at bar 1's open (100): A with a 2 % trail (98), B with 10 % (90). Bar 1's
    # low of 97 closes A at 98. Bar 2's high 110 moves B to 99; bar 3 falls to 98: B out at 99.
    def place(s: Strategy) -> None:
        s.buy(units=1, trail=0.02, tag="A")
        s.buy(units=1, trail=0.1, tag="B")

    rows = [
        FLAT,
        [100.0, 100.0, 97.0, 98.0],
        [98.0, 110.0, 97.5, 108.0],
        [105.0, 106.0, 98.0, 100.0],
        FLAT,
    ]
    result = _run(rows, _on_bar({0: place}))
    exits = {t["tag"]: (t["exit_bar"], t["exit_price"]) for t in result.trades}
    assert exits == {"A": (1, pytest.approx(98.0)), "B": (3, pytest.approx(99.0))}


def test_a_trailing_stop_moves_while_another_instruments_trail_waits_for_its_bar() -> None:
    # BBB (no bar 2) is bought first with a 50 % trail, AAA second with 10 %, both at bar 1's
    # open (100). Bar 2's AAA high of 110 moves AAA's trail to 99; bar 3 falls to 98: out at 99.
    aaa_rows = [
        FLAT,
        STILL,
        [100.0, 110.0, 100.0, 108.0],
        [105.0, 106.0, 98.0, 100.0],
        FLAT,
    ]
    bars = _two_instruments([FLAT] * 5, 2)
    bars["AAA"] = bars_from_rows(aaa_rows, symbol="AAA")

    class Both(Strategy):
        def next(self) -> None:
            if self.bar_index == 0:
                self.buy(units=1, trail=0.5, symbol="BBB")
                self.buy(units=1, trail=0.1, symbol="AAA")

    result = run_backtest(BacktestSpec(initial_cash=10_000.0), bars, Both)
    by_symbol = {t["symbol"]: t for t in result.trades}
    assert (by_symbol["AAA"]["exit_bar"], by_symbol["AAA"]["exit_price"]) == (
        3,
        pytest.approx(99.0),
    )
    assert by_symbol["BBB"]["open"] is True


def test_a_cancelled_trailing_stop_stops_trailing() -> None:
    # 10 % trail from 100; bar 1's high 110 moves it to 99 at the close, then the strategy
    # cancels it. Bar 2's high of 120 moves it no more: the order keeps 99.
    class CancelTheTrail(Strategy):
        def next(self) -> None:
            if self.bar_index == 0:
                self.buy(units=1, trail=0.1)
            elif self.bar_index == 1:
                for order in self.orders:
                    order.cancel()

    rows = [FLAT, [100.0, 110.0, 100.0, 108.0], [108.0, 120.0, 107.0, 118.0], FLAT]
    result = _run(rows, CancelTheTrail)
    trail = next(o for o in result.orders if o["kind"] == "trailing_stop")
    assert trail["status"] == "cancelled"
    assert trail["stop"] == pytest.approx(99.0)


def test_a_same_close_market_order_cancelled_in_its_bar_never_fills() -> None:
    # fill_mode same_close: placed and cancelled in the same next(); the close must not fill
    # it (cancel() cancels an order while it is pending).
    class PlaceAndCancel(Strategy):
        def next(self) -> None:
            if self.bar_index == 0:
                self.buy(units=1).cancel()

    spec = BacktestSpec(initial_cash=10_000.0, fill_mode="same_close")
    result = run_backtest(spec, {"AAA": bars_from_rows([FLAT] * 3)}, PlaceAndCancel)
    (order,) = result.orders
    assert (order["status"], order["reason"], order["filled_units"]) == (
        "cancelled",
        "cancelled by strategy",
        0.0,
    )
    assert result.trades == ()
    assert result.cash[-1] == 10_000.0


def test_equity_after_a_same_close_fill_is_marked_at_the_close() -> None:
    # fill_mode same_close: 10 bought at bar 0's close (100), cash 9000. Bar 1 closes at 110:
    # next() sees equity 9000 + 10 * 110 = 10100 (no order pending on that bar).
    seen: list[float] = []

    class BuyThenWatch(Strategy):
        def next(self) -> None:
            if self.bar_index == 0:
                self.buy(units=10)
            else:
                seen.append(self.equity)

    rows = [FLAT, [100.0, 111.0, 99.0, 110.0], [110.0, 111.0, 109.0, 110.0]]
    spec = BacktestSpec(initial_cash=10_000.0, fill_mode="same_close")
    run_backtest(spec, {"AAA": bars_from_rows(rows)}, BuyThenWatch)
    assert seen == [10_100.0, 10_100.0]


def test_a_day_order_the_strategy_cancelled_stays_cancelled_after_its_session() -> None:
    # Placed on bar 0 (its session is bar 1's day), cancelled in bar 1's next(); bar 2 is a
    # new day, but the order was no longer pending and does not expire.
    class CancelDayOrder(Strategy):
        def next(self) -> None:
            if self.bar_index == 0:
                self.buy(units=1, limit=50.0, tif="day")
            elif self.bar_index == 1:
                for order in self.orders:
                    order.cancel()

    result = _run([FLAT] * 4, CancelDayOrder)
    (order,) = result.orders
    assert (order["status"], order["reason"]) == ("cancelled", "cancelled by strategy")
