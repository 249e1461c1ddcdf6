"""The summary of stored windows, against numbers worked by hand (no sandbox)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from backtesting.engine.bars import BarSeries, align_bars
from backtesting.walkforward.models import WalkForward, WalkForwardWindow
from backtesting.walkforward.summary import walkforward_summary

DAY = 86_400
T0 = int(datetime(2015, 1, 1, tzinfo=UTC).timestamp())  # a Thursday; day 2 is a Saturday


def _window(index: int, days: list[int], values: list[float], is_annual: float):
    return WalkForwardWindow(
        index=index,
        oos_equity={"t": [T0 + d * DAY for d in days], "v": values},
        is_metrics={"annualized_return": is_annual},
        oos_metrics={"n_trades": 2},
    )


def _aligned(closes: list[float]):
    n = len(closes)
    ts = (np.arange(n, dtype=np.int64) * DAY + T0) * 10**9
    close = np.array(closes)
    return align_bars({"AAA": BarSeries("AAA", ts, close, close, close, close, np.ones(n))})


def test_two_windows_stitch_and_summarise_as_worked_by_hand():
    walkforward = WalkForward(settings={"initial_cash": 100.0}, objective="total_return")
    # Segment 1 goes 100 -> 110 (+10 %); segment 2 goes 50 -> 55 (+10 %), rescaled to start at
    # 110: the stitched curve is 100, 110, 110, 121.
    windows = [_window(0, [0, 1], [100.0, 110.0], 0.5), _window(1, [2, 3], [50.0, 55.0], 0.3)]
    # Closes 10, 12 | 20, 15: buy and hold makes +20 % then -25 %: 100 -> 120 -> 90.
    aligned = _aligned([10.0, 12.0, 20.0, 15.0])

    summary, curve = walkforward_summary(walkforward, windows, aligned)

    assert curve["equity"] == [100.0, 110.0, 110.0, 121.0]
    assert curve["buy_and_hold"] == [100.0, 120.0, 120.0, 90.0]
    assert curve["t"] == [T0, T0 + DAY, T0 + 2 * DAY, T0 + 3 * DAY]
    assert summary["total_return"] == pytest.approx(0.21)
    assert summary["buy_and_hold_return"] == pytest.approx(-0.10)
    assert summary["max_drawdown"] == 0.0
    assert summary["n_windows"] == 2 and summary["n_trades"] == 4
    # Three daily returns (10 %, 0 %, 10 %) on a 7-day market (a Saturday is among the bars).
    annual = 1.21 ** (365 / 3) - 1
    assert summary["annual_return"] == pytest.approx(annual)
    assert summary["in_sample_annual_return"] == pytest.approx(0.4)
    assert summary["efficiency"] == pytest.approx(annual / 0.4)


def test_efficiency_is_undefined_when_the_in_sample_winners_lost_money():
    walkforward = WalkForward(settings={"initial_cash": 100.0}, objective="total_return")
    windows = [_window(0, [0, 1], [100.0, 110.0], -0.2)]

    summary, _ = walkforward_summary(walkforward, windows, _aligned([10.0, 11.0]))

    assert summary["in_sample_annual_return"] == pytest.approx(-0.2)
    assert summary["efficiency"] is None
