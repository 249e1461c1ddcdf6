"""The per-bar hot path of the event-driven engine: what next() reads through its views and
crossings, and what placing an order checks, must be exactly what the full arrays say on every
bar, however the engine makes those reads cheap (memos, memoryviews, fast paths)."""

from __future__ import annotations

import gc
import inspect
import math
from typing import Any

import numpy as np
import pytest

from backtesting.engine import (
    BacktestSpec,
    Strategy,
    StrategyError,
    crossover,
    crossunder,
    run_backtest,
)
from backtesting.engine import indicators as ta
from backtesting.engine.views import Clock, SeriesView, readonly
from tests.engine.helpers import random_bars

BARS = random_bars(120, seed=5, vol=0.02)
LEVEL = float(np.median(BARS.close))


class Recorder(Strategy):
    """Writes down, on every bar, every value next() can read and every crossing it can test."""

    rows: list[tuple[Any, ...]] = []
    refused: list[bool] = []

    def init(self) -> None:
        self.f = self.I(ta.sma, self.data.close, 3)
        self.s = self.I(ta.sma, self.data.close, 7)

    def next(self) -> None:
        f, s, close = self.f, self.s, self.data.close
        type(self).rows.append(
            (
                self.bar_index, len(f), len(close), len(self.data), f[-1], f[-2], s[-1],
                close[-1], close[-2], close[0], crossover(f, s), crossunder(f, s),
                crossover(f, LEVEL), crossunder(close, f), crossover(LEVEL, s),
                crossunder(LEVEL, close), crossover(s, f),
            )
        )  # fmt: skip
        for key in (len(f), -len(f) - 1):
            try:
                f[key]
            except IndexError:
                type(self).refused.append(True)
            else:
                type(self).refused.append(False)


def _cross(a: np.ndarray | float, b: np.ndarray | float, i: int, up: bool) -> bool:
    return bool((ta.crossover if up else ta.crossunder)(*_full(a, b))[i])


def _full(a: np.ndarray | float, b: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    n = len(BARS.close)
    return np.broadcast_to(a, n).copy(), np.broadcast_to(b, n).copy()


def test_next_reads_on_every_bar_exactly_what_the_full_arrays_hold_up_to_that_bar() -> None:
    Recorder.rows, Recorder.refused = [], []
    run_backtest(BacktestSpec(), {"AAA": BARS}, Recorder)
    f, s, c = ta.sma(BARS.close, 3), ta.sma(BARS.close, 7), BARS.close
    expected = [
        (
            i, i + 1, i + 1, i + 1, f[i], f[i - 1], s[i], c[i], c[i - 1], c[0],
            _cross(f, s, i, True), _cross(f, s, i, False), _cross(f, LEVEL, i, True),
            _cross(c, f, i, False), _cross(LEVEL, s, i, True), _cross(LEVEL, c, i, False),
            _cross(s, f, i, True),
        )
        for i in range(6, len(c))
    ]  # fmt: skip
    assert Recorder.rows == expected
    assert all(type(v) is float for row in Recorder.rows for v in row[4:10])
    assert all(type(v) is bool for row in Recorder.rows for v in row[10:])
    # The future and anything before the first bar stay out of reach on every bar.
    assert Recorder.refused == [True] * (2 * len(expected))


def test_a_number_first_and_a_view_second_cross_as_the_arrays_do() -> None:
    values = np.array([29.0, 31, 30, 28, math.nan, 32, 30, 30, 31])
    clock = Clock()
    view = SeriesView(readonly(values), clock)
    seen = []
    for i in range(-1, len(values)):
        clock.i = i
        seen.append((crossover(30.0, view), crossunder(30, view), crossover(np.float64(30), view)))
    over = ta.crossover(30.0, values).tolist()
    under = ta.crossunder(30.0, values).tolist()
    assert seen == [(False, False, False), *zip(over, under, over, strict=True)]


def test_crossings_of_a_view_with_a_second_partner_are_answered_bar_by_bar() -> None:
    # A view keeps one memo per direction: its first partner's. Others get the scalar answer.
    rng = np.random.default_rng(3)
    a, b, c = (readonly(rng.normal(size=50).round(1)) for _ in range(3))
    clock = Clock()
    va, vb, vc = SeriesView(a, clock), SeriesView(b, clock), SeriesView(c, clock)
    for i in range(-1, 50):
        clock.i = i
        got = (crossover(va, vb), crossover(va, vc), crossunder(va, vc), crossunder(va, vb))
        pairs = ((ta.crossover, b), (ta.crossover, c), (ta.crossunder, c), (ta.crossunder, b))
        want = tuple(bool(fn(a, y)[i]) if i >= 0 else False for fn, y in pairs)
        assert got == want
    assert va._up_with is vb and va._down_with is vc


def test_memoized_crossings_are_not_walked_by_the_garbage_collector() -> None:
    # A memo holds one answer per bar; were it tracked, every collection of its generation
    # during the run would walk it again.
    clock = Clock()
    x, y = (SeriesView(readonly(np.arange(10_000.0) % k), clock) for k in (7, 11))
    clock.i = 5
    crossover(x, y), crossunder(x, y)
    gc.collect()
    assert x._up_with is y and x._down_with is y
    assert not gc.is_tracked(x._up) and not gc.is_tracked(x._down)


def test_buy_and_sell_take_the_same_keywords_with_the_same_defaults() -> None:
    buy = inspect.signature(Strategy.buy).parameters
    sell = inspect.signature(Strategy.sell).parameters
    assert list(buy) == list(sell)
    assert [(p.kind, p.default) for p in buy.values()] == [
        (p.kind, p.default) for p in sell.values()
    ]
    assert all(p.kind is p.KEYWORD_ONLY for name, p in buy.items() if name != "self")


class Placer(Strategy):
    """Places one buy on its first bar with ``kwargs``."""

    kwargs: dict[str, Any] = {}

    def next(self) -> None:
        if self.bar_index == 0:
            self.buy(**self.kwargs)


def _place(**kwargs: Any) -> Any:
    strategy = type("PlacerCase", (Placer,), {"kwargs": kwargs})
    return run_backtest(BacktestSpec(), {"AAA": random_bars(10)}, strategy)


def test_an_unknown_order_keyword_is_the_users_error_naming_it() -> None:
    with pytest.raises(StrategyError, match="unexpected keyword argument 'size'"):
        _place(size=10)


@pytest.mark.parametrize(
    ("fraction", "message"),
    [
        (0.0, "fraction must be a finite number > 0"),
        (-0.5, "fraction must be a finite number > 0"),
        (math.inf, "fraction must be a finite number > 0"),
        (math.nan, "fraction must be a finite number > 0"),
        (2e15, "fraction must be a finite number > 0"),
        (10.5, r"fraction must be in \(0, 10\]"),
        (True, "fraction must be a number, got True"),
        ("0.5", "fraction must be a number"),
    ],
)
def test_a_fraction_outside_its_range_is_refused_where_it_is_placed(
    fraction: Any, message: str
) -> None:
    with pytest.raises(StrategyError, match=message):
        _place(fraction=fraction)


def test_every_kind_of_number_sizes_an_order_alike() -> None:
    plain = _place(fraction=0.5).to_dict()
    for same in (np.float64(0.5), np.float32(0.5)):
        assert _place(fraction=same).to_dict() == plain
    assert _place(fraction=10.0).orders[0]["fraction"] == 10.0
    whole = _place(units=3).to_dict()
    assert _place(units=3.0).to_dict() == _place(units=np.int64(3)).to_dict() == whole


@pytest.mark.parametrize(
    "sizes",
    [
        {"units": 1, "fraction": 0.5},
        {"units": 1, "value": 100.0},
        {"fraction": 0.5, "value": 100.0},
        {"units": 1, "fraction": 0.5, "value": 100.0},
    ],
)
def test_two_sizes_for_one_order_are_refused_whichever_two(sizes: dict[str, Any]) -> None:
    with pytest.raises(StrategyError, match="at most one of units=, fraction=, value="):
        _place(**sizes)


def test_each_size_alone_is_taken_and_none_means_all_available() -> None:
    orders = [_place(**size).orders[0] for size in ({"units": 2}, {"value": 500.0}, {})]
    given = [[not math.isnan(o[k]) for k in ("units", "value", "fraction")] for o in orders]
    assert given == [[True, False, False], [False, True, False], [False, False, False]]
    assert (orders[0]["units"], orders[1]["value"]) == (2.0, 500.0)
    assert all(o["status"] == "filled" for o in orders)
