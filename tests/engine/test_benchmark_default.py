"""Buy-and-hold, alpha and beta are measured against the first instrument by default."""

from __future__ import annotations

import pytest

from backtesting.engine import BacktestSpec, run_backtest
from tests.engine.helpers import SmaCross, random_bars


def test_buy_and_hold_defaults_to_the_first_instrument_over_the_evaluation_window() -> None:
    bars = random_bars(300, seed=4)
    result = run_backtest(BacktestSpec(), {"AAA": bars}, SmaCross).to_dict()
    stats = result["statistics"]
    # The evaluation window starts once SMA(20) exists: bar 19.
    first, last = bars.close[19], bars.close[-1]
    assert stats["buy_and_hold_return"] == pytest.approx(last / first - 1.0, rel=1e-12)
    assert stats["beta"] is not None and stats["alpha"] is not None


def test_a_named_benchmark_replaces_the_default() -> None:
    aaa, bbb = random_bars(300, seed=4), random_bars(300, seed=9, symbol="BBB")
    spec = BacktestSpec(benchmark="BBB")
    stats = run_backtest(spec, {"AAA": aaa, "BBB": bbb}, SmaCross).to_dict()["statistics"]
    assert stats["buy_and_hold_return"] == pytest.approx(bbb.close[-1] / bbb.close[19] - 1.0)
