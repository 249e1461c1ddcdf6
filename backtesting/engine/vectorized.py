"""Vectorized strategies: ``signals(data)`` -> target fraction of equity per bar and instrument.

A target is acted on only on the bar where it changes (decided at that bar's close, filled
like any market order); between changes the position drifts with the price. Changes become the
same orders an event-driven strategy would place, through the same broker, so both styles give
identical results for the same logic.

The fast path visits only the bars where something happens (a target change and its fill
bar) and leaves every per-bar quantity (cash, marks, equity, drawdown) to NumPy. It is exact,
not an approximation: on the skipped bars the loop would do nothing. It applies when nothing
can happen on a bar without an order: all instruments trade on every bar, no borrow cost, no
shorts, no leverage (so no margin call), fills at the next open.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from backtesting.engine import kernel
from backtesting.engine import orders as ok
from backtesting.engine.arraypath import (
    SignalOrders,
    Unsupported,
    book_orders,
    core_ledger,
    fills_ledger,
    walk_numbers,
)
from backtesting.engine.bars import AlignedBars
from backtesting.engine.broker import Broker
from backtesting.engine.errors import StrategyError, shown
from backtesting.engine.orders import Order
from backtesting.engine.result import Ledger, build_curve, step_history
from backtesting.engine.spec import BacktestSpec
from backtesting.engine.strategy import dtype_words


def signal_targets(raw: Any, bars: AlignedBars, spec: BacktestSpec) -> np.ndarray:
    """(n_symbols, n_bars) float targets from what ``signals`` returned; NaN = no view yet.

    Everything here checks what the user's code returned, so every refusal is a StrategyError
    that names the column and what was wrong with it.
    """
    n_sym, n = len(bars.symbols), bars.n_bars
    if not isinstance(raw, dict):
        raw = {bars.symbols[0]: raw}
    unknown = [k for k in raw if not (isinstance(k, str) and k in bars.symbols)]
    if unknown:
        names = ", ".join(shown(k) for k in unknown[:3]) + (", ..." if len(unknown) > 3 else "")
        raise StrategyError(f"signals() returned {len(unknown)} unknown symbol(s): {names}")
    out = np.empty((n_sym, n))
    for s, sym in enumerate(bars.symbols):
        if sym not in raw:
            out[s] = 0.0
            continue
        arr = _signal_column(raw[sym], sym)
        if arr.shape != (n,):
            raise StrategyError(f"signals()[{sym!r}] has shape {arr.shape}, expected ({n},)")
        nans, lo, hi = signal_column(arr, out[s])
        if nans < n and not (lo >= -1.0 and hi <= 1.0):  # an infinity fails here too
            raise StrategyError(f"signals()[{sym!r}] must be within [-1, 1] (or NaN)")
        if nans < n and lo < 0 and not spec.allow_short:
            raise StrategyError(f"signals()[{sym!r}] has short targets but allow_short is off")
    return out


def signal_column(arr: np.ndarray, row: np.ndarray) -> tuple[int, float, float]:
    """Copy a float64 column into its row of the targets; (NaN count, min, max of the other
    values). One pass in the kernel; this NumPy is the reference (min and max are exact, so
    both give the same numbers)."""
    if kernel.KERNEL is not None:
        return kernel.KERNEL.signal_column(arr, row)
    row[:] = arr
    finite = arr[~np.isnan(arr)]
    if not finite.size:
        return len(arr), math.inf, -math.inf
    return len(arr) - finite.size, float(finite.min()), float(finite.max())


def zero_nans(targets: np.ndarray) -> np.ndarray:
    """``targets`` (from signal_targets) with NaN ("no view yet") as 0, in place.

    signal_targets refused infinities, so this is np.nan_to_num, which stays the reference;
    the kernel does it in one pass over the matrix it owns.
    """
    if kernel.KERNEL is not None and targets.flags.c_contiguous:
        kernel.KERNEL.zero_nans(targets)
        return targets
    return np.nan_to_num(targets, copy=False)


# A tuple, not np.ndarray | list | ...: isinstance checks a union about 3x slower (once per
# instrument per run).
_SIGNAL_TYPES = (np.ndarray, list, tuple, int, float, np.number)


def _signal_column(value: Any, sym: str) -> np.ndarray:
    expected = "expected numbers or booleans, one per bar"
    if not isinstance(value, _SIGNAL_TYPES):
        raise StrategyError(
            f"signals() returned {_a(type(value).__name__)} for {sym!r}; {expected}"
        )
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged nesting, for one
        kind = type(value).__name__
        raise StrategyError(
            f"signals() returned {_a(kind)} that is not an array of numbers for {sym!r}; {expected}"
        ) from exc
    if arr.dtype.kind not in "biuf":
        raise StrategyError(f"signals() returned {dtype_words(arr.dtype)} for {sym!r}; {expected}")
    return arr.astype(np.float64, copy=False)


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


class SignalDriver:
    """Turns target changes into orders; ``step`` is the per-bar hook of the shared loop."""

    def __init__(self, broker: Broker, targets: np.ndarray, start: int) -> None:
        self.broker, self.targets, self.start = broker, targets, start
        self._actions: dict[int, list[tuple[int, float, float]]] | None = None

    # The per-bar matrices below are built only for the loops; the array path reads the
    # changes straight from the targets (target_changes).
    @functools.cached_property
    def previous(self) -> np.ndarray:
        targets = self.targets
        previous = np.concatenate([np.zeros((targets.shape[0], 1)), targets[:, :-1]], axis=1)
        previous[:, self.start] = 0.0  # nothing is held when trading starts
        return previous

    @functools.cached_property
    def changed(self) -> np.ndarray:
        changed = self.targets != self.previous
        changed[:, : self.start] = False
        return changed

    @functools.cached_property
    def change_bars(self) -> np.ndarray:
        return np.flatnonzero(self.changed.any(axis=0))

    @property
    def actions(self) -> dict[int, list[tuple[int, float, float]]]:
        """Per change bar: [(symbol index, new target, old target)]; only the loops need it."""
        if self._actions is None:
            sym_idx, bar_idx = np.nonzero(self.changed)
            order = np.lexsort((sym_idx, bar_idx))
            targets, previous = self.targets, self.previous
            actions: dict[int, list[tuple[int, float, float]]] = {}
            for s, b in zip(sym_idx[order].tolist(), bar_idx[order].tolist(), strict=True):
                actions.setdefault(b, []).append((s, float(targets[s, b]), float(previous[s, b])))
            self._actions = actions
        return self._actions

    def fast_path_ok(self, spec: BacktestSpec, bars: AlignedBars) -> bool:
        return (
            spec.fill_mode == "next_open"
            and bars.complete
            and spec.borrow_rate_annual == 0.0
            and spec.margin_initial >= 1.0
            and spec.margin_maintenance <= 1.0  # above 1 a long-only account can be called
            and bool((self.targets >= 0).all())
            # 100 x 0.01 sums to 1.0000000000000007: allow float noise, not leverage.
            and float(self.targets.sum(axis=0).max(initial=0.0)) <= 1.0 + 1e-9
        )

    def array_path_ok(self, spec: BacktestSpec, bars: AlignedBars) -> bool:
        """Runs the array path can take; it may still bail out (resizes, margin calls)."""
        return spec.fill_mode == "next_open" and bars.complete and spec.borrow_rate_annual == 0.0

    def step(self) -> None:
        i = self.broker.clock.i
        if i in self.actions:
            self.act(i)

    def act(self, i: int) -> None:
        """Place the orders for every instrument whose target changed on bar ``i``."""
        for s, new, old in self.actions[i]:
            self.broker.submit(_target_order(self.broker, s, i, new, old))


def _target_order(broker: Broker, s: int, i: int, new: float, old: float) -> Order:
    sym = broker.symbols[s]
    if new == 0.0:
        kind, side = ok.CLOSE, (-1 if broker.units[s] > 0 else 1)
    else:
        side = 1 if new > 0 else -1
        # Same direction: resize to the target; otherwise open (flipping closes first).
        kind = ok.TARGET if old * new > 0 else ok.MARKET
    order = Order(kind=kind, symbol=sym, sym_index=s, side=side, placed_bar=i, eligible_bar=i + 1)
    order.fraction = 1.0 if new == 0.0 else abs(new)
    return order


def run_signals_fast(
    broker: Broker, driver: SignalDriver, n: int, progress: Callable[[float], Any] | None
) -> None:
    """Visit only change bars and their fill bars; identical to the loop on every other bar."""
    changes = driver.change_bars
    fills = changes + 1
    # Both inputs are sorted: a merge plus dedupe beats np.union1d's hashing here.
    merged = np.sort(np.concatenate([changes, fills[fills < n]]), kind="mergesort")
    bars = merged[np.r_[True, merged[1:] != merged[:-1]]].tolist() if merged.size else []
    is_change = np.zeros(n + 1, dtype=bool)
    is_change[changes] = True
    every = max(1, len(bars) // 100)
    for k, i in enumerate(bars):
        broker.process_bar(i)
        broker.close_bar(i)
        if is_change[i]:
            driver.act(i)
        broker.record_cash(i)
        if progress is not None and k % every == every - 1:
            progress(i / n)
    if progress is not None:
        progress(1.0)


# ---------------------------------------------------------------------------- the array path


def run_signals_arrays(
    spec: BacktestSpec, bars: AlignedBars, driver: SignalDriver
) -> Ledger | None:
    """The vectorized run as arrays, bit-identical to the broker; None when it cannot apply.

    Only sizing is sequential (each order is sized from the equity left by every earlier
    fill), so one tight loop walks the orders with the broker's exact arithmetic (see
    arraypath); fill prices, positions, cash, the curve and the trade columns are NumPy.
    """
    compiled = kernel.KERNEL
    if compiled is not None:
        ledger = _core_in_one_call(compiled, spec, bars, driver)
        if ledger is not _STAGES:
            return _unless_margin_call(spec, bars, ledger)
    sym, bar, new, old = target_changes(driver.targets, driver.start)
    if bool(np.any(old * new > 0.0)):
        return None  # same-direction resizes split lots: the broker handles those
    orders = SignalOrders.build(spec, bars, sym, bar, new)
    try:
        fills, fates, units = book_orders(spec, bars, orders)
    except Unsupported:
        return None
    return _unless_margin_call(spec, bars, fills_ledger(bars, orders, fills, fates, units))


# What _core_in_one_call answers when the stages below must do the run instead.
_STAGES: Any = object()


def _core_in_one_call(
    compiled: kernel.Kernel, spec: BacktestSpec, bars: AlignedBars, driver: SignalDriver
) -> Ledger | None:
    """The kernel's tp_signal_core: every stage of run_signals_arrays (and the curve) in
    one call, which is what keeps a short run's cost near the work itself; the same results,
    stage for stage (tests/engine/test_kernel.py). _STAGES when the stages must run instead
    (a sizing search beyond int64, more changes than the kernel made room for)."""
    core = compiled.signal_core(
        np.ascontiguousarray(driver.targets),
        driver.start,
        np.ascontiguousarray(bars.open, dtype=np.float64),
        np.ascontiguousarray(bars.close, dtype=np.float64),
        np.ascontiguousarray(bars.has_bar, dtype=np.bool_),
        walk_numbers(spec),
    )
    if core.status in (kernel.RESIZE, kernel.UNSUPPORTED):
        return None  # resizes and additions split lots: the broker handles those
    if core.status != kernel.OK:
        return _STAGES
    return core_ledger(spec, bars, core)


def _unless_margin_call(
    spec: BacktestSpec, bars: AlignedBars, ledger: Ledger | None
) -> Ledger | None:
    risky = spec.allow_short or spec.margin_initial < 1.0 or spec.margin_maintenance > 1.0
    if ledger is None or not risky:
        return ledger
    return None if _margin_call_possible(spec, bars, ledger) else ledger


def target_changes(
    targets: np.ndarray, start: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(symbol, bar, new target, old target) of every change from ``start`` on, ordered by
    bar, then symbol (submit order). One pass in the kernel; this NumPy is its reference."""
    if kernel.KERNEL is not None:
        return kernel.KERNEL.target_changes(np.ascontiguousarray(targets), start)
    previous = np.concatenate([np.zeros((targets.shape[0], 1)), targets[:, :-1]], axis=1)
    previous[:, start] = 0.0  # nothing is held when trading starts
    changed = targets != previous
    changed[:, :start] = False
    sym, bar = np.nonzero(changed.T)[::-1]
    return sym, bar, targets[sym, bar], previous[sym, bar]


def _margin_call_possible(spec: BacktestSpec, bars: AlignedBars, ledger: Ledger) -> bool:
    """Would the broker's close-of-bar maintenance check fire on any bar? (then: the loop)."""
    if spec.margin_maintenance <= 0.0:
        return False
    n = bars.n_bars
    curve = build_curve(ledger, bars, spec.initial_cash)
    short = np.zeros(n, dtype=bool)
    for at, vals in zip(ledger.pos_bars, ledger.pos_values, strict=True):
        short |= step_history(at, vals, n, 0.0) < 0.0
    gross = np.where(curve.equity > 0, curve.exposure * curve.equity, np.inf)
    # A margin of safety: the broker sums equity in another order, so stay clear of the edge.
    near = curve.equity < spec.margin_maintenance * gross * (1.0 + 1e-9) + 1e-9
    # As the broker's close_bar: only shorts or borrowed cash can be called, unless the
    # maintenance margin is above 1.
    exposed = short | (curve.cash < 0.0) | (spec.margin_maintenance > 1.0)
    return bool(np.any(exposed & (gross > 0.0) & near))
