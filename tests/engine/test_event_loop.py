"""The event loop has a lean variant for runs without close-of-bar risk (long only, no
leverage, next-open fills): it enters the broker only on bars with pending orders, relying on a
trailing stop always having its pending stop order. It must book exactly what the general loop
(the one every bar goes through the broker in) books, for every kind of order."""

from __future__ import annotations

from typing import Any

from backtesting.engine import BacktestSpec, run_backtest
from backtesting.engine.bars import align_bars
from backtesting.engine.broker import Broker
from tests.engine.helpers import random_bars, scripted

BARS = random_bars(400, seed=11)
PRICE = float(BARS.close[30])
SCRIPT: dict[int, list[tuple[str, dict[str, Any]]]] = {
    25: [("close", {})],  # nothing held: cancelled
    30: [("buy", {"fraction": 0.4, "trail": 0.03})],  # a trailing stop lives on quiet bars
    31: [("buy", {"value": 1.0})],  # less than one unit: rejected, size rounds to zero
    40: [("buy", {"units": 20, "sl": PRICE * 0.9, "tp": PRICE * 1.1})],
    60: [("buy", {"units": 5, "limit": PRICE * 0.97, "tif": "day"})],
    61: [("buy", {"units": 5, "limit": PRICE * 0.5})],
    90: [("cancel", {"order": 5}), ("close", {"fraction": 0.5})],
    120: [("buy", {"fraction": 0.3, "stop": PRICE * 1.02, "trail": 0.05})],
    200: [("close", {})],
    210: [("buy", {"fraction": 2.0})],  # more than the equity: rejected for funds
}


def _run(spec: BacktestSpec) -> Any:
    return run_backtest(spec, {"AAA": BARS}, scripted(SCRIPT)).to_dict()


def test_the_lean_loop_books_what_the_general_loop_books() -> None:
    lean_spec = BacktestSpec()
    general_spec = BacktestSpec(allow_short=True)  # the script never sells short
    aligned = align_bars({"AAA": BARS})
    assert not Broker(lean_spec, aligned).risk_checks  # the lean loop runs
    assert Broker(general_spec, aligned).risk_checks  # every bar through the broker
    lean, general = _run(lean_spec), _run(general_spec)
    assert lean["orders"] == general["orders"]
    assert lean["trades"] == general["trades"]
    assert lean["equity_curve"] == general["equity_curve"]
    assert lean["statistics"] == general["statistics"]
    reasons = {o["reason"] for o in lean["orders"]}
    assert {"size rounds to zero", "no position to close"} <= reasons
    assert any(r.startswith("insufficient funds") for r in reasons)
    exits = {t["exit_reason"] for t in lean["trades"]}
    assert "trailing_stop" in exits
