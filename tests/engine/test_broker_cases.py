"""The broker's accounting worked out by hand on a few bars (docs/strategy-guide.md).

Each case is one rule of the fill model, costs or risk, with every figure computed from the
documented formulas: execution price = market * (1 +/- impact), impact = half the spread plus
slippage; commission = max(fixed + pct * notional, minimum); borrow = short value * annual
rate * elapsed / 365.25 days, charged at each close; maintenance margin checked at the close.
"""

from __future__ import annotations

from typing import Any

import pytest

from backtesting.engine import BacktestSpec, CostModel, Strategy, run_backtest
from tests.engine.helpers import bars_from_rows

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
