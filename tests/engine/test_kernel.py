"""The compiled kernel (backtesting/engine/kernel.c) against the pure-Python reference path.

The Python is the specification: every comparison here is of the raw bytes of the arrays
(so -0.0 against 0.0 or one ulp anywhere fails), never approximate.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from backtesting.engine import BacktestSpec, CostModel, kernel, run_backtest
from backtesting.engine.arraypath import (
    SignalOrders,
    Unsupported,
    book_orders,
    walk_numbers,
    walk_params,
)
from backtesting.engine.bars import align_bars
from backtesting.engine.indicators import sma
from backtesting.engine.metrics import _longest_drawdown_days, drawdown_series
from backtesting.engine.result import (
    Ledger,
    build_curve,
    build_curve_reference,
    order_records,
    trade_records,
    window_drawdown,
)
from backtesting.engine.vectorized import (
    SignalDriver,
    run_signals_arrays,
    signal_column,
    target_changes,
    zero_nans,
)
from backtesting.sandbox.isolation import child_command
from tests.engine.helpers import random_bars, signals_strategy

COMPILED = kernel.KERNEL
needs_kernel = pytest.mark.skipif(COMPILED is None, reason="the kernel is not built")

COSTS = [
    CostModel(),
    CostModel(commission_pct=0.001),
    CostModel(commission_pct=0.002, commission_min=1.0, spread_bps=4.0),
    CostModel(commission_fixed=2.0, commission_pct=0.001, slippage_bps=3.0),
    CostModel(commission_fixed=5.0, commission_min=8.0, spread_bps=30.0),
]
# Whole units, continuous, lots of 5 and of 0.001, and lots so fine that sizing has to search
# (1e-15: the kernel's int64 search; 1e-18: counts beyond int64, where the Python walk redoes
# the run).
STEPS = [None, 0.0, 5.0, 0.001, 1e-15, 1e-18]


def same_bits(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _spec(
    short: bool, step: float | None, costs: CostModel, margin: float, min_value: float, cash: float
) -> BacktestSpec:
    return BacktestSpec(
        allow_short=short,
        costs=costs,
        fractional_units=step is not None and step < 1.0,
        lot_size=step if step else None,
        min_order_value=min_value,
        initial_cash=cash,
        margin_initial=margin,
        margin_maintenance=min(0.5, margin),
    )


def _booked(spec: BacktestSpec, bars: Any, orders: SignalOrders, compiled: Any) -> Any:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kernel, "KERNEL", compiled)
        try:
            return book_orders(spec, bars, orders)
        except Unsupported as exc:
            return str(exc)


def _assert_same_booking(one: Any, other: Any) -> None:
    if isinstance(one, str) or isinstance(other, str):
        assert one == other
        return
    (fills, fates, units), (ref_fills, ref_fates, ref_units) = one, other
    for name in ("order", "closing", "units", "fee", "cash"):
        assert same_bits(getattr(fills, name), getattr(ref_fills, name)), name
    assert fates == ref_fates
    assert same_bits(units, ref_units)


# A random account for the kernel-against-reference tests: its spec, aligned bars of 1-4
# symbols, and (n bars, n symbols, shorting on) for drawing orders or targets on them.
Account = tuple[BacktestSpec, Any, int, int, bool]


@st.composite
def accounts(draw: st.DrawFn, *, max_bars: int, seed_stride: int) -> Account:
    n_sym = draw(st.integers(min_value=1, max_value=4))
    n = draw(st.integers(min_value=2, max_value=max_bars))
    short = draw(st.booleans())
    spec = _spec(
        short,
        draw(st.sampled_from(STEPS)),
        draw(st.sampled_from(COSTS)),
        draw(st.sampled_from([0.25, 0.5, 1.0, 2.0])),
        draw(st.sampled_from([0.0, 500.0, 5_000.0])),
        draw(st.sampled_from([1_000.0, 10_000.0, 1e6, 1e9])),
    )
    bars = align_bars(
        {
            f"S{k}": random_bars(n, seed=k + seed_stride * n, symbol=f"S{k}", vol=0.05)
            for k in range(n_sym)
        }
    )
    return spec, bars, n, n_sym, short


@needs_kernel
@settings(max_examples=300, deadline=None)
@given(data=st.data(), account=accounts(max_bars=40, seed_stride=11))
def test_the_kernel_books_random_orders_exactly_as_the_python_walk(
    data: st.DataObject, account: Account
) -> None:
    # Any orders, not only those signals produce: same-direction resizes (Unsupported in
    # both), closes with nothing held, flips, refusals for size, minimum value and margin.
    spec, bars, n, n_sym, short = account
    cells = data.draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n_sym - 1)),
            unique=True,
            max_size=3 * n,
        )
    )
    cells.sort()
    levels = [-1.0, -0.5, 0.0, 0.3, 0.5, 1.0] if short else [0.0, 0.3, 0.5, 1.0]
    target = np.array([data.draw(st.sampled_from(levels)) for _ in cells])
    bar = np.array([b for b, _ in cells], dtype=np.int64)
    sym = np.array([s for _, s in cells], dtype=np.int64)
    orders = SignalOrders.build(spec, bars, sym, bar, target)
    _assert_same_booking(_booked(spec, bars, orders, COMPILED), _booked(spec, bars, orders, None))


@needs_kernel
def test_sizing_searches_beyond_int64_fall_back_to_the_python_walk() -> None:
    # Lots of 1e-15 at ~100 a unit are ~1e18 lots: where neither the estimate nor one lot less
    # fits, the search would pass 2**62 and the kernel hands the run back to Python.
    assert COMPILED is not None
    bars = align_bars({"S0": random_bars(30, seed=3, symbol="S0")})
    sym, bar, target = np.zeros(3, np.int64), np.array([2, 9, 15]), np.array([1.0, 0.0, 1.0])
    statuses = set()
    for cash in np.linspace(200_000.0, 900_000.0, 41).tolist():
        spec = _spec(False, 1e-15, CostModel(), 1.0, 0.0, cash)
        orders = SignalOrders.build(spec, bars, sym, bar, target)
        raw = COMPILED.walk_orders(
            orders.sym, orders.bar, orders.target, orders.price, orders.buy_price,
            orders.sell_price, np.ascontiguousarray(bars.open), walk_params(spec),
        )  # fmt: skip
        statuses.add(raw.status)
        booked = _booked(spec, bars, orders, COMPILED)
        _assert_same_booking(booked, _booked(spec, bars, orders, None))
        assert len(booked[0].order) == 3  # all three orders filled, whoever walked them
    assert statuses == {kernel.OK, kernel.FALLBACK}


@needs_kernel
@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    n_sym=st.integers(min_value=1, max_value=3),
    n=st.integers(min_value=3, max_value=80),
    short=st.booleans(),
    step=st.sampled_from(STEPS[:4]),
    costs=st.sampled_from(COSTS),
    margin=st.sampled_from([0.5, 1.0]),
)
def test_whole_runs_are_bit_identical_with_and_without_the_kernel(
    data: st.DataObject,
    n_sym: int,
    n: int,
    short: bool,
    step: float | None,
    costs: CostModel,
    margin: float,
) -> None:
    symbols = [f"S{k}" for k in range(n_sym)]
    bars = {s: random_bars(n, seed=k + 5 * n, symbol=s, vol=0.04) for k, s in enumerate(symbols)}
    signs = [-1.0, 0.0, 1.0] if short else [0.0, 1.0]
    targets = {
        s: data.draw(st.sampled_from([0.3, 0.5, 1.0]))
        * np.array(data.draw(st.lists(st.sampled_from(signs), min_size=n, max_size=n)))
        for s in symbols
    }
    spec = _spec(short, step, costs, margin, 0.0, 10_000.0)
    cls = signals_strategy(targets)
    fast = run_backtest(spec, bars, cls)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kernel, "KERNEL", None)
        reference = run_backtest(spec, bars, cls)
    assert fast.to_dict() == reference.to_dict()
    for name in ("equity", "cash", "exposure", "drawdown"):
        assert same_bits(getattr(fast, name), getattr(reference, name)), name


LEDGER_ARRAYS = (
    "cash_bars", "cash_values", "trade_size", "trade_entry_price", "trade_exit_price",
    "trade_commission", "trade_borrow", "trade_entry_bar", "trade_exit_bar", "trade_open",
)  # fmt: skip


def _array_run(
    spec: BacktestSpec, bars: Any, targets: np.ndarray, start: int, compiled: Any
) -> Any:
    """run_signals_arrays with or without the kernel: its Ledger and curve, as plain values."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kernel, "KERNEL", compiled)
        ledger = run_signals_arrays(spec, bars, SignalDriver(None, targets.copy(), start))  # type: ignore[arg-type]
        if ledger is None:
            return None
        curve = build_curve(ledger, bars, spec.initial_cash)
        return {
            **{name: getattr(ledger, name) for name in LEDGER_ARRAYS},
            "pos_bars": ledger.pos_bars,
            "pos_values": ledger.pos_values,
            **{name: getattr(curve, name) for name in ("equity", "cash", "exposure")},
            "trades": trade_records(ledger.trades(), bars),
            "orders": order_records(ledger.orders(), bars.timestamps),
        }


def _assert_same_run(one: Any, other: Any) -> None:
    assert (one is None) == (other is None)
    if one is None:
        return
    for name, value in one.items():
        if name in ("pos_bars", "pos_values"):
            assert len(value) == len(other[name])
            assert all(same_bits(a, b) for a, b in zip(value, other[name], strict=True)), name
        elif name in ("trades", "orders"):
            assert repr(value) == repr(other[name]), name  # repr: NaN equals NaN
        else:
            assert same_bits(value, other[name]), name


@needs_kernel
@settings(max_examples=300, deadline=None)
@given(data=st.data(), account=accounts(max_bars=60, seed_stride=7))
def test_the_one_call_core_equals_the_python_stages(data: st.DataObject, account: Account) -> None:
    # tp_signal_core (changes, orders, walk, positions, trades and curve in one call) against
    # the reference stages with no kernel at all: every array of the Ledger and the curve bit
    # for bit, and the trade and order records. Same-direction resizes (both None), flips,
    # refusals for size, minimum value and margin, margin calls, the last bar's orders, lots
    # beyond int64 (the core hands the run to the stages).
    spec, bars, n, n_sym, short = account
    levels = [-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0] if short else [0.0, 0.25, 0.5, 1.0]
    targets = np.array(
        [data.draw(st.lists(st.sampled_from(levels), min_size=n, max_size=n)) for _ in range(n_sym)]
    )
    start = data.draw(st.integers(0, n - 1))
    _assert_same_run(
        _array_run(spec, bars, targets, start, COMPILED),
        _array_run(spec, bars, targets, start, None),
    )


@needs_kernel
def test_more_changes_than_the_core_made_room_for_go_through_the_stages() -> None:
    # A target flipping on every bar: n / 2 changes, more than the n / 8 + 64 the core
    # allocates; the stages redo the run, with the same results.
    n = 2_000
    bars = align_bars({"S0": random_bars(n, seed=5, symbol="S0", vol=0.02)})
    targets = np.where(np.arange(n) % 2 == 0, 1.0, 0.0)[np.newaxis, :]
    spec = _spec(False, None, COSTS[1], 1.0, 0.0, 10_000.0)
    assert COMPILED is not None
    core = COMPILED.signal_core(targets, 0, bars.open, bars.close, bars.has_bar, walk_numbers(spec))
    assert core.status == kernel.CAPACITY
    fast = _array_run(spec, bars, targets, 0, COMPILED)
    assert fast is not None and len(fast["trades"]) > 900
    _assert_same_run(fast, _array_run(spec, bars, targets, 0, None))


@needs_kernel
@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    n_sym=st.integers(min_value=1, max_value=4),
    n=st.integers(min_value=1, max_value=50),
    late=st.booleans(),
)
def test_the_kernel_curve_equals_the_numpy_curve(
    data: st.DataObject, n_sym: int, n: int, late: bool
) -> None:
    # Several events on one bar (the last wins), long and short positions, cash that goes
    # negative (exposure inf or 0), and with ``late`` instruments that start after bar 0 (NaN
    # closes before their first bar, forward-filled gaps).
    series = {}
    for k in range(n_sym):
        full = random_bars(n + 5, seed=k + 3 * n, symbol=f"S{k}", vol=0.05)
        first = data.draw(st.integers(0, min(5, n - 1))) if late else 0
        keep = np.arange(first, n)
        if late and n > 3:
            picked = data.draw(st.lists(st.sampled_from(keep.tolist()), max_size=n))
            keep = np.unique(np.array([first, *picked], dtype=np.int64))
        cut = {f: getattr(full, f)[keep] for f in ("open", "high", "low", "close", "volume")}
        series[f"S{k}"] = type(full)(f"S{k}", full.timestamps[keep], **cut)
    bars = align_bars(series)
    values = st.sampled_from([0.0, -0.0, 3.0, -2.5, 1e-300, 7.25e8, -1e5])

    def events() -> tuple[np.ndarray, np.ndarray]:
        at = sorted(data.draw(st.lists(st.integers(0, bars.n_bars - 1), max_size=6)))
        return np.array(at, dtype=np.int64), np.array([data.draw(values) for _ in at])

    cash_bars, cash_values = events()
    positions = [events() for _ in range(n_sym)]
    empty = np.zeros(0)
    ledger = Ledger(
        cash_bars, cash_values, [p[0] for p in positions], [p[1] for p in positions],
        empty, empty, empty, empty, empty, empty, empty, empty,
        trades=list, orders=list,
    )  # fmt: skip
    fast = build_curve(ledger, bars, 10_000.0)
    reference = build_curve_reference(ledger, bars, 10_000.0)
    for name in ("equity", "cash", "exposure"):
        assert same_bits(getattr(fast, name), getattr(reference, name)), name


def _without_kernel(fn: Any, *args: Any) -> Any:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kernel, "KERNEL", None)
        return fn(*args)


@needs_kernel
@settings(max_examples=200, deadline=None)
@given(
    column=st.lists(
        st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, -0.25, 1.5, -7.0, np.nan, np.inf, -np.inf]),
        max_size=30,
    ),
    strided=st.booleans(),
)
def test_signal_columns_equal_the_numpy_reference(column: list[float], strided: bool) -> None:
    arr = np.repeat(np.array(column, dtype=np.float64), 2)[::2] if strided else np.array(column)
    row, reference_row = np.full(len(arr), 9.0), np.full(len(arr), 9.0)
    assert signal_column(arr, row) == _without_kernel(signal_column, arr, reference_row)
    assert same_bits(row, reference_row)


@needs_kernel
@settings(max_examples=200, deadline=None)
@given(data=st.data(), n_sym=st.integers(1, 4), n=st.integers(1, 30))
def test_target_changes_equal_the_numpy_reference(data: st.DataObject, n_sym: int, n: int) -> None:
    levels = st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 1.0 / 3])
    targets = np.array(
        [data.draw(st.lists(levels, min_size=n, max_size=n)) for _ in range(n_sym)]
    ).reshape(n_sym, n)
    start = data.draw(st.integers(0, n - 1))
    fast, reference = (
        target_changes(targets, start),
        _without_kernel(target_changes, targets, start),
    )
    for got, want in zip(fast, reference, strict=True):
        assert same_bits(got, want)


@needs_kernel
@settings(max_examples=200, deadline=None)
@given(
    equity=st.lists(
        st.sampled_from([0.0, -0.0, 1.0, 2.0, 1.5, -3.0, 1e-300, 5e6, np.nan, np.inf]),
        max_size=25,
    )
)
@example(equity=[0.0, -0.0, -3.0])  # a tie of 0.0 and -0.0 decides the sign of -3 / peak
def test_drawdowns_equal_the_numpy_reference(equity: list[float]) -> None:
    # Peaks that are 0, negative or NaN (NaN sticks, as in np.maximum.accumulate), ties of
    # 0.0 and -0.0 (np.maximum takes the newer one).
    eq = np.array(equity, dtype=np.float64)
    with np.errstate(all="ignore"):
        assert same_bits(window_drawdown(eq), _without_kernel(window_drawdown, eq))
        assert same_bits(drawdown_series(eq), _without_kernel(drawdown_series, eq))


@needs_kernel
@settings(max_examples=300, deadline=None)
@given(
    dd=st.lists(st.sampled_from([0.0, -0.0, -0.25, -1e-300, -1.0, np.nan, -np.inf]), max_size=40),
    first=st.integers(-(2**62), 2**62),
    gaps=st.lists(st.integers(1, 2**58), min_size=40, max_size=40),
)
@example(dd=[], first=0, gaps=[1] * 40)
@example(dd=[-0.5, -0.5], first=0, gaps=[1] * 40)  # never recovered: to the last bar
def test_the_longest_drawdown_equals_the_episodes_reference(
    dd: list[float], first: int, gaps: list[int]
) -> None:
    # Runs at either end, single bars, NaN and -0.0 (not below), and durations past 2**53 ns,
    # where the int64 -> float64 conversion rounds.
    series = np.array(dd, dtype=np.float64)
    ts = np.int64(first) + np.concatenate(([0], np.cumsum(gaps[: len(dd) - 1]))).astype(np.int64)
    got = _longest_drawdown_days(ts[: len(dd)], series)
    want = _without_kernel(_longest_drawdown_days, ts[: len(dd)], series)
    assert same_bits(got, want)


@needs_kernel
@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.sampled_from([0.0, -0.0, 1e-300, 3.0, 101.25, -7.5, 5e300, -5e300])
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.floats(100.0, 101.0),
        min_size=1,
        max_size=60,
    ),
    period=st.integers(1, 70),
    gap=st.sampled_from([None, np.nan, np.inf]),
    strided=st.booleans(),
)
@example(values=[1.0] * 5, period=5, gap=None, strided=False)  # one window: the whole series
@example(values=[5e300] * 6, period=3, gap=None, strided=False)  # sums overflow: inf - inf
def test_sma_equals_the_numpy_reference(
    values: list[float], period: int, gap: float | None, strided: bool
) -> None:
    # The kernel on gap-free contiguous input; a NaN or an infinity anywhere, a strided view
    # or a period past the length take the NumPy path: the same bits every way.
    x = np.array(values, dtype=np.float64)
    if gap is not None:
        x[len(x) // 2] = gap
    if strided:
        x = np.repeat(x, 2)[::2]
    with np.errstate(all="ignore"):
        assert same_bits(sma(x, period), _without_kernel(sma, x, period))


@needs_kernel
@given(
    cells=st.lists(st.sampled_from([0.0, -0.0, 0.5, -1.0, np.nan]), min_size=1, max_size=40),
    n_sym=st.integers(1, 3),
)
def test_zero_nans_equals_nan_to_num(cells: list[float], n_sym: int) -> None:
    targets = np.array(cells * n_sym).reshape(n_sym, len(cells))
    reference = np.nan_to_num(targets)
    assert same_bits(zero_nans(targets), reference)


def test_a_missing_kernel_is_logged_once_and_the_engine_still_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(kernel.REQUIRE_ENV, raising=False)
    with caplog.at_level(logging.WARNING, logger=kernel.__name__):
        assert kernel.load(tmp_path / "libkernel.so") is None
    assert [r.getMessage() for r in caplog.records if "make install" in r.getMessage()]
    monkeypatch.setattr(kernel, "KERNEL", None)
    bars = {"AAA": random_bars(300, seed=2)}
    targets = {"AAA": np.where(np.arange(300) % 40 < 20, 1.0, 0.0)}
    result = run_backtest(BacktestSpec(), bars, signals_strategy(targets))
    assert result.mode == "vectorized" and len(result.trades) > 5


def test_a_required_kernel_that_is_missing_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(kernel.REQUIRE_ENV, "1")
    with pytest.raises(kernel.KernelMissing, match=r"libkernel\.so is required"):
        kernel.load(tmp_path / "libkernel.so")


def test_the_kernel_can_be_switched_off_for_the_reference_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(kernel.SWITCH_ENV, "off")
    assert kernel.load() is None
    monkeypatch.setenv(kernel.SWITCH_ENV, "on")
    assert (kernel.load() is None) == (COMPILED is None)


@pytest.mark.skipif(
    os.environ.get(kernel.REQUIRE_ENV) != "1", reason=f"{kernel.REQUIRE_ENV}=1 is not set"
)
def test_the_kernel_is_loaded_where_it_is_required() -> None:
    # CI (.ci/run) sets TP_REQUIRE_KERNEL=1 after `make install`: this fails if the build lost
    # the kernel and the suite ran on the slow path unnoticed.
    assert kernel.KERNEL is not None


@needs_kernel
@pytest.mark.requires_component("bubblewrap")
def test_the_jailed_child_loads_the_kernel() -> None:
    # The sandbox child sees only the engine's directory, read-only: the library must be
    # found and loaded there as it is at home.
    bootstrap = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from backtesting.engine import kernel; print(kernel.KERNEL is not None, kernel.LIBRARY)"
    )
    done = subprocess.run(
        child_command(bootstrap), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "/app/backtesting/engine/libkernel.so"]
