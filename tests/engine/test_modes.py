"""Event-driven and vectorized runs of the same logic agree exactly; runs are deterministic."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtesting.engine import (
    BacktestSpec,
    CostModel,
    Param,
    Strategy,
    run_backtest,
    runner,
    vectorized,
)
from backtesting.engine import indicators as ta
from backtesting.engine.vectorized import SignalDriver
from tests.engine.helpers import SmaCross, SmaCrossSignals, random_bars, signals_strategy

COSTLY = BacktestSpec(
    costs=CostModel(commission_fixed=1.0, commission_pct=0.001, spread_bps=2.0, slippage_bps=1.0)
)


def _without_mode(result: Any) -> dict[str, Any]:
    out = result.to_dict()
    out.pop("mode")
    return out


@pytest.mark.parametrize("spec", [BacktestSpec(), COSTLY], ids=["no_costs", "costs"])
def test_event_and_vectorized_sma_crossover_give_identical_results(spec: BacktestSpec) -> None:
    bars = {"AAA": random_bars(2148, seed=7)}
    event = run_backtest(spec, bars, SmaCross)
    vector = run_backtest(spec, bars, SmaCrossSignals)
    assert event.mode == "event" and vector.mode == "vectorized"
    assert len(event.trades) > 20
    assert _without_mode(event) == _without_mode(vector)
    assert np.array_equal(event.equity, vector.equity)  # bit-identical, not approximately


def _shared_loop_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Force vectorized runs through the bar-by-bar shared loop (no array path, no skipping)."""
    monkeypatch.setattr(SignalDriver, "array_path_ok", lambda *a: False)
    monkeypatch.setattr(SignalDriver, "fast_path_ok", lambda *a: False)


def _uses_array_path(spec: BacktestSpec, bars: dict[str, Any], cls: type[Strategy]) -> bool:
    taken = []

    def spy(*args: Any) -> Any:
        out = vectorized.run_signals_arrays(*args)
        taken.append(out is not None)
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner, "run_signals_arrays", spy)
        run_backtest(spec, bars, cls)
    return taken == [True]


# What is exact: the array path replays the broker's arithmetic operation for operation (same
# sizing function, same fee split, same summation order of equity over held instruments), so
# everything below is compared with ==, bit for bit - no tolerance anywhere in this file.
def test_vectorized_fast_path_equals_the_shared_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    bars = {"AAA": random_bars(1500, seed=3)}
    assert _uses_array_path(COSTLY, bars, SmaCrossSignals)
    fast = run_backtest(COSTLY, bars, SmaCrossSignals)
    _shared_loop_only(monkeypatch)
    loop = run_backtest(COSTLY, bars, SmaCrossSignals)
    assert fast.to_dict() == loop.to_dict()
    assert np.array_equal(fast.equity, loop.equity)


def test_the_array_path_falls_back_to_the_broker_for_resizes() -> None:
    class Resize(Strategy):
        def signals(self, data: Any) -> np.ndarray:
            return np.where(np.arange(len(data.close)) % 20 < 10, 0.5, 0.8)

    assert not _uses_array_path(COSTLY, {"AAA": random_bars(200, seed=2)}, Resize)


@settings(max_examples=80, deadline=None)
@given(
    data=st.data(),
    n_sym=st.integers(min_value=1, max_value=3),
    n=st.integers(min_value=3, max_value=60),
    short=st.booleans(),
    step=st.sampled_from([None, 0.0, 5.0]),  # whole units, fractional, lots of 5
    costs=st.sampled_from(
        [
            CostModel(),
            CostModel(commission_pct=0.002, commission_min=1.0, spread_bps=4.0),
            CostModel(commission_fixed=2.0, commission_pct=0.001, slippage_bps=3.0),
        ]
    ),
    min_value=st.sampled_from([0.0, 5_000.0]),
)
def test_array_path_equals_the_shared_loop_on_random_signals(
    data: st.DataObject,
    n_sym: int,
    n: int,
    short: bool,
    step: float | None,
    costs: CostModel,
    min_value: float,
) -> None:
    # One size per instrument and random signs: the array path's domain (a same-direction
    # resize goes to the broker and is covered by the test above).
    signs = [-1.0, 0.0, 1.0] if short else [0.0, 1.0]
    symbols = [f"S{k}" for k in range(n_sym)]
    bars = {s: random_bars(n, seed=k + 7 * n, symbol=s, vol=0.05) for k, s in enumerate(symbols)}
    targets = {
        s: data.draw(st.sampled_from([0.3, 0.5, 1.0]))
        * np.array(data.draw(st.lists(st.sampled_from(signs), min_size=n, max_size=n)))
        for s in symbols
    }
    spec = BacktestSpec(
        allow_short=short,
        costs=costs,
        fractional_units=step == 0.0,
        lot_size=step if step else None,
        min_order_value=min_value,
        initial_cash=10_000.0,
    )
    cls = signals_strategy(targets)
    fast = run_backtest(spec, bars, cls)
    taken = _uses_array_path(spec, bars, cls)
    assert taken or short  # long-only never needs the broker; shorts may (margin calls)
    with pytest.MonkeyPatch.context() as mp:
        _shared_loop_only(mp)
        loop = run_backtest(spec, bars, cls)
    assert fast.to_dict() == loop.to_dict()
    assert np.array_equal(fast.equity, loop.equity)


class PairCross(Strategy):
    """SMA crossover on two instruments, half the equity each."""

    def init(self) -> None:
        self.f = {s: self.I(ta.sma, self.datas[s].close, 5) for s in self.symbols}
        self.s = {s: self.I(ta.sma, self.datas[s].close, 15) for s in self.symbols}

        self.was_up = dict.fromkeys(self.symbols, False)

    def next(self) -> None:
        # Acts on changes of the signal (as targets do), not on the position: an order the
        # broker rejects for lack of cash is then not retried on the next bar.
        for sym in self.symbols:
            up = self.f[sym][-1] > self.s[sym][-1]
            if up and not self.was_up[sym]:
                self.buy(fraction=0.5, symbol=sym)
            elif not up and self.was_up[sym]:
                self.close(symbol=sym)
            self.was_up[sym] = up


class PairCrossSignals(Strategy):
    def signals(self, data: Any) -> dict[str, np.ndarray]:
        out = {}
        for sym in self.symbols:
            close = self.datas[sym].close
            f, s = self.I(ta.sma, close, 5), self.I(ta.sma, close, 15)
            out[sym] = np.where(f > s, 0.5, 0.0)
        return out


def test_multi_asset_event_and_vectorized_agree() -> None:
    bars = {
        "AAA": random_bars(800, seed=1, symbol="AAA"),
        "BBB": random_bars(800, seed=2, symbol="BBB"),
    }
    event = run_backtest(COSTLY, bars, PairCross)
    vector = run_backtest(COSTLY, bars, PairCrossSignals)
    assert {t["symbol"] for t in event.trades} == {"AAA", "BBB"}
    assert _without_mode(event) == _without_mode(vector)


def test_same_inputs_give_bit_identical_output() -> None:
    bars = {"AAA": random_bars(600, seed=11)}
    first = json.dumps(run_backtest(COSTLY, bars, SmaCross).to_dict(), allow_nan=False)
    second = json.dumps(run_backtest(COSTLY, bars, SmaCross).to_dict(), allow_nan=False)
    assert first == second


def test_to_dict_is_json_safe_with_a_fixed_key_order() -> None:
    result = run_backtest(COSTLY, {"AAA": random_bars(300, seed=5)}, SmaCross)
    out = result.to_dict()
    json.dumps(out, allow_nan=False)
    assert list(out) == [
        "engine_version",
        "mode",
        "symbols",
        "spec",
        "start_bar",
        "eval_start_bar",
        "equity_curve",
        "trades",
        "orders",
        "statistics",
    ]
    assert out["engine_version"] and out["spec"]["costs"]["commission_pct"] == 0.001
    assert out["equity_curve"]["timestamps"][0].endswith("Z")
    assert set(out["trades"][0]) >= {"entry_time", "exit_time", "mae_pct", "mfe_pct", "ambiguous"}


def test_result_arrays_are_frozen() -> None:
    result = run_backtest(BacktestSpec(), {"AAA": random_bars(100)}, SmaCross)
    with pytest.raises(ValueError):
        result.equity[0] = 1.0
    with pytest.raises(AttributeError):
        result.mode = "x"  # type: ignore[misc]


class Reverser(Strategy):
    """Flips between long and short on the SMA sign, exercising close-then-open fills."""

    n = Param(8, min=2)

    def init(self) -> None:
        self.m = self.I(ta.sma, self.data.close, self.n)

    def next(self) -> None:
        pos = self.position()
        if self.data.close[-1] > self.m[-1] and not pos.is_long:
            self.buy(fraction=1.0)
        elif self.data.close[-1] < self.m[-1] and not pos.is_short:
            self.sell(fraction=1.0)


class ReverserSignals(Strategy):
    n = Param(8, min=2)

    def signals(self, data: Any) -> np.ndarray:
        m = self.I(ta.sma, data.close, self.n)
        close = np.asarray(data.close)
        return np.where(close > m, 1.0, np.where(close < m, -1.0, np.nan))


def test_long_short_reversals_agree_between_modes() -> None:
    spec = BacktestSpec(allow_short=True, costs=CostModel(commission_pct=0.0005))
    bars = {"AAA": random_bars(400, seed=9)}
    event = run_backtest(spec, bars, Reverser)
    vector = run_backtest(spec, bars, ReverserSignals)
    assert any(t["direction"] == "short" for t in event.trades)
    assert event.final_equity == vector.final_equity
    assert [t["net_pnl"] for t in event.trades] == [t["net_pnl"] for t in vector.trades]


def _target_strategies(targets: np.ndarray) -> tuple[type[Strategy], type[Strategy]]:
    """An event-driven and a vectorized strategy following the same target path."""

    class Follow(Strategy):
        def init(self) -> None:
            self.last = 0.0

        def next(self) -> None:
            new = float(targets[self.bar_index])
            if new != self.last:
                if new == 0.0:
                    self.close()
                elif new > 0:
                    self.buy(fraction=new)
                else:
                    self.sell(fraction=-new)
            self.last = new

    class Signals(Strategy):
        def signals(self, data: Any) -> np.ndarray:
            return targets

    return Follow, Signals


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.sampled_from([-1.0, 0.0, 1.0]), min_size=5, max_size=80),
    seed=st.integers(min_value=0, max_value=10_000),
    short=st.booleans(),
    pct=st.sampled_from([0.0, 0.002]),
)
def test_random_target_paths_agree_between_event_and_vectorized(
    steps: list[float], seed: int, short: bool, pct: float
) -> None:
    targets = np.array(steps) if short else np.abs(np.array(steps))
    bars = {"AAA": random_bars(len(targets), seed=seed, vol=0.03)}
    spec = BacktestSpec(allow_short=short, costs=CostModel(commission_pct=pct, commission_min=1.0))
    follow, signals = _target_strategies(targets)
    assert _without_mode(run_backtest(spec, bars, follow)) == _without_mode(
        run_backtest(spec, bars, signals)
    )


def test_array_path_equals_the_shared_loop_on_a_fully_invested_portfolio() -> None:
    # Twelve instruments at 1/12 each: equity sums over many held positions, and the last
    # entries land where the initial-margin check is close (the array path only skips that
    # check where it provably passes).
    symbols = [f"P{k:02d}" for k in range(12)]
    bars = {s: random_bars(400, seed=40 + k, symbol=s, vol=0.03) for k, s in enumerate(symbols)}
    rng = np.random.default_rng(5)
    targets = {s: np.where(rng.random(400) < 0.7, 1.0 / 12, 0.0) for s in symbols}
    spec = BacktestSpec(costs=CostModel(commission_pct=0.001, spread_bps=2.0))
    cls = signals_strategy(targets)
    assert _uses_array_path(spec, bars, cls)
    fast = run_backtest(spec, bars, cls)
    with pytest.MonkeyPatch.context() as mp:
        _shared_loop_only(mp)
        loop = run_backtest(spec, bars, cls)
    assert fast.to_dict() == loop.to_dict()
    assert np.array_equal(fast.equity, loop.equity)
