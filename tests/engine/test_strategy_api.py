"""The user-facing Strategy API: progressive views, warm-up, parameters, errors, progress."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from backtesting.engine import (
    BacktestSpec,
    CostModel,
    EngineError,
    Param,
    Strategy,
    StrategyError,
    crossover,
    crossunder,
    run_backtest,
)
from backtesting.engine import indicators as ta
from tests.engine.helpers import SmaCross, bars_from_rows, random_bars

REPO = Path(__file__).resolve().parents[2]


class Peeker(Strategy):
    """Records what it can see on each bar and whether peeking ahead is refused."""

    seen: list[tuple[int, int, float]] = []
    refused: list[bool] = []

    def init(self) -> None:
        assert isinstance(self.data.close, np.ndarray) and len(self.data.close) == 30
        assert not self.data.close.flags.writeable
        self.m = self.I(ta.sma, self.data.close, 3)

    def next(self) -> None:
        close = self.data.close
        type(self).seen.append((self.bar_index, len(close), close[-1]))
        try:
            close[len(close)]
        except IndexError:
            type(self).refused.append(True)
        assert close[0] == self.data.close.values[0]
        assert len(np.asarray(self.m)) == len(close)


def test_next_sees_only_bars_up_to_the_current_one_and_starts_after_warm_up() -> None:
    Peeker.seen, Peeker.refused = [], []
    bars = random_bars(30)
    run_backtest(BacktestSpec(), {"AAA": bars}, Peeker)
    first_bar, length, last = Peeker.seen[0]
    assert first_bar == 2 and length == 3  # SMA(3) has its first value on bar 2
    assert last == bars.close[2]
    assert len(Peeker.seen) == 28 and all(Peeker.refused)


def test_fixed_warmup_gives_the_same_evaluation_window_for_every_parameter_set() -> None:
    bars = {"AAA": random_bars(300)}
    spec = BacktestSpec(warmup_bars=60, params={"fast": 5, "slow": 10})
    short = run_backtest(spec, bars, SmaCross)
    long = run_backtest(
        BacktestSpec(warmup_bars=60, params={"fast": 20, "slow": 50}), bars, SmaCross
    )
    assert short.eval_start_bar == long.eval_start_bar == 60
    assert np.array_equal(short.timestamps, long.timestamps)
    auto = run_backtest(BacktestSpec(params={"fast": 20, "slow": 50}), bars, SmaCross)
    assert auto.eval_start_bar == auto.start_bar == 49


def test_parameters_resolve_with_types_and_bounds() -> None:
    result = run_backtest(BacktestSpec(params={"fast": 4.0}), {"AAA": random_bars(100)}, SmaCross)
    assert result.start_bar == 19
    with pytest.raises(StrategyError, match="below its minimum"):
        run_backtest(BacktestSpec(params={"fast": 1}), {"AAA": random_bars(50)}, SmaCross)
    with pytest.raises(StrategyError, match="unknown parameters: nope"):
        run_backtest(BacktestSpec(params={"nope": 1}), {"AAA": random_bars(50)}, SmaCross)
    with pytest.raises(StrategyError, match="not a int"):
        run_backtest(BacktestSpec(params={"fast": 2.5}), {"AAA": random_bars(50)}, SmaCross)


class Broken(Strategy):
    def next(self) -> None:
        if self.bar_index == 5:
            helper_that_fails()


def helper_that_fails() -> None:
    raise ZeroDivisionError("boom")


class BadOrder(Strategy):
    def next(self) -> None:
        self.buy(units=1, fraction=0.5)


def test_an_exception_in_user_code_is_a_strategy_error_with_the_users_traceback() -> None:
    with pytest.raises(StrategyError) as info:
        run_backtest(BacktestSpec(), {"AAA": random_bars(20)}, Broken)
    assert "ZeroDivisionError: boom" in str(info.value)
    text = "".join(info.value.traceback_lines)
    assert "helper_that_fails()" in text and "runner.py" not in text and "broker.py" not in text


def test_bad_order_arguments_are_the_users_fault() -> None:
    with pytest.raises(StrategyError, match="at most one of units"):
        run_backtest(BacktestSpec(), {"AAA": random_bars(20)}, BadOrder)


def test_inconsistent_input_is_an_engine_error() -> None:
    bars = random_bars(20)
    with pytest.raises(EngineError, match="strictly increasing"):
        type(bars)(
            "AAA",
            bars.timestamps[::-1].copy(),
            *(bars.open, bars.high, bars.low, bars.close),
            bars.volume,
        )
    with pytest.raises(EngineError, match="benchmark"):
        run_backtest(BacktestSpec(benchmark="ZZZ"), {"AAA": bars}, SmaCross)
    with pytest.raises(EngineError, match="unknown spec fields"):
        BacktestSpec.from_dict({"initial_cash": 1.0, "leverage": 3})
    with pytest.raises(EngineError, match="Strategy subclass"):
        run_backtest(BacktestSpec(), {"AAA": bars}, object)  # type: ignore[arg-type]


def test_too_short_data_for_the_warm_up_is_reported_to_the_user() -> None:
    with pytest.raises(StrategyError, match="not enough bars"):
        run_backtest(BacktestSpec(), {"AAA": random_bars(15)}, SmaCross)


def test_progress_is_reported_about_every_percent_and_ends_at_one() -> None:
    seen: list[float] = []
    run_backtest(BacktestSpec(), {"AAA": random_bars(5000)}, SmaCross, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0 and 50 <= len(seen) <= 101


class Cancelled(Exception):
    pass


def test_an_exception_from_progress_cancels_the_run_unchanged() -> None:
    def cancel(fraction: float) -> None:
        if fraction > 0.3:
            raise Cancelled

    with pytest.raises(Cancelled):
        run_backtest(BacktestSpec(), {"AAA": random_bars(2000)}, SmaCross, progress=cancel)


def test_spec_round_trips_through_a_dict() -> None:
    spec = BacktestSpec(allow_short=True, params={"b": 2, "a": 1}, costs=CostModel(spread_bps=1.0))
    again = BacktestSpec.from_dict(spec.to_dict())
    assert again == spec and list(again.to_dict()["params"]) == ["a", "b"]


def test_view_aware_crossover_matches_the_array_version() -> None:
    a = np.array([1.0, 2.0, 3.0, 2.0, 1.0])
    b = np.full(5, 2.5)
    hits = []

    class Cross(Strategy):
        def init(self) -> None:
            self.a, self.b = self.I(lambda: a), self.I(lambda: b)

        def next(self) -> None:
            hits.append((crossover(self.a, self.b), crossunder(self.a, self.b)))

    run_backtest(BacktestSpec(), {"AAA": bars_from_rows([[1, 2, 0.5, 1]] * 5)}, Cross)
    assert [h[0] for h in hits] == ta.crossover(a, b).tolist()
    assert [h[1] for h in hits] == ta.crossunder(a, b).tolist()


def test_missing_bars_on_the_union_clock_delay_fills_until_the_instrument_trades() -> None:
    aaa = bars_from_rows([[100, 101, 99, 100]] * 4, "AAA")
    bbb_rows = bars_from_rows(
        [[50, 51, 49, 50], [52, 53, 51, 52], [54, 55, 53, 54], [56, 57, 55, 56]], "BBB"
    )
    keep = np.array([0, 2, 3])  # BBB has no bar on day 1
    bbb = type(bbb_rows)(
        "BBB",
        bbb_rows.timestamps[keep],
        *(getattr(bbb_rows, f)[keep] for f in ("open", "high", "low", "close", "volume")),
    )

    class BuyB(Strategy):
        def next(self) -> None:
            if self.bar_index == 0:
                self.buy(units=10, symbol="BBB")

    result = run_backtest(BacktestSpec(), {"AAA": aaa, "BBB": bbb}, BuyB)
    order = result.orders[0]
    assert order["fill_bar"] == 2 and order["fill_price"] == 54.0  # not day 1: BBB did not trade
    # The shared cash paid for BBB: 100000 - 540, plus 10 units marked at BBB's last close 56.
    assert result.final_equity == 100000 - 540 + 560


def test_open_trades_enter_statistics_only_when_asked() -> None:
    bars = {"AAA": random_bars(200, seed=4)}

    class Hold(Strategy):
        def next(self) -> None:
            if not self.position():
                self.buy()

    closed_only = run_backtest(BacktestSpec(), bars, Hold)
    counted = run_backtest(BacktestSpec(count_open_trades=True), bars, Hold)
    assert closed_only.trades[0]["open"] is True
    assert closed_only.statistics["n_trades"] == 0 and counted.statistics["n_trades"] == 1


def test_the_engine_package_never_imports_django_or_other_infrastructure() -> None:
    # Of strategies, only the pure parameter rules (strategies.paramspec) may be loaded.
    code = (
        "import sys, backtesting.engine as e;"
        "allowed = lambda m: m == 'strategies' or m.startswith('strategies.paramspec');"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('django', 'celery', 'redis', 'rest_framework', 'accounts', 'strategies')"
        " and not allowed(m)];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


@pytest.mark.parametrize(
    ("declare", "message"),
    [
        (lambda: Param(10, min=20), r"the default \(10\) is below min \(20\)"),
        (lambda: Param(True, min=0), "min only applies to numbers"),
        (lambda: Param(1, choices=[1, 1]), "choices contain duplicates"),
        (lambda: Param(float("nan")), "finite int, float, bool or str"),
    ],
)
def test_a_param_the_validator_refuses_is_refused_by_the_engine_too(
    declare: Callable[[], Param], message: str
) -> None:
    with pytest.raises(StrategyError, match=message):
        declare()
