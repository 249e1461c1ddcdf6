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

import bisect
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from backtesting.engine import orders as ok
from backtesting.engine.bars import AlignedBars
from backtesting.engine.broker import Broker, Rejected
from backtesting.engine.errors import StrategyError
from backtesting.engine.orders import Order
from backtesting.engine.result import Ledger, build_curve, step_history
from backtesting.engine.sizing import MONEY_EPS, units_for_value
from backtesting.engine.spec import BacktestSpec
from backtesting.engine.trades import Trade


def signal_targets(raw: Any, bars: AlignedBars, spec: BacktestSpec) -> np.ndarray:
    """(n_symbols, n_bars) float targets from what ``signals`` returned; NaN = no view yet."""
    n_sym, n = len(bars.symbols), bars.n_bars
    if not isinstance(raw, dict):
        raw = {bars.symbols[0]: raw}
    unknown = sorted(set(map(str, raw)) - set(bars.symbols))
    if unknown:
        raise StrategyError(f"signals() returned unknown symbols: {', '.join(unknown)}")
    out = np.zeros((n_sym, n))
    for s, sym in enumerate(bars.symbols):
        if sym not in raw:
            continue
        arr = np.asarray(raw[sym], dtype=np.float64)
        if arr.shape != (n,):
            raise StrategyError(f"signals()[{sym!r}] has shape {arr.shape}, expected ({n},)")
        finite = arr[~np.isnan(arr)]
        if finite.size and (np.abs(finite).max() > 1.0 or not np.isfinite(finite).all()):
            raise StrategyError(f"signals()[{sym!r}] must be within [-1, 1] (or NaN)")
        if finite.size and finite.min() < 0 and not spec.allow_short:
            raise StrategyError(f"signals()[{sym!r}] has short targets but allow_short is off")
        out[s] = arr
    return out


class SignalDriver:
    """Turns target changes into orders; ``step`` is the per-bar hook of the shared loop."""

    def __init__(self, broker: Broker, targets: np.ndarray, start: int) -> None:
        self.broker, self.targets, self.start = broker, targets, start
        previous = np.concatenate([np.zeros((targets.shape[0], 1)), targets[:, :-1]], axis=1)
        previous[:, start] = 0.0  # nothing is held when trading starts
        changed = targets != previous
        changed[:, :start] = False
        self.changed = changed
        self.change_bars = np.flatnonzero(changed.any(axis=0))
        self.previous = previous
        self._actions: dict[int, list[tuple[int, float, float]]] | None = None

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
            and bool((self.targets >= 0).all())
            # 100 x 0.01 sums to 1.0000000000000007: allow float noise, not leverage.
            and float(self.targets.sum(axis=0).max(initial=0.0)) <= 1.0 + 1e-9
        )

    def array_path_ok(self, spec: BacktestSpec, bars: AlignedBars) -> bool:
        """Runs the array path can take; it may still bail out (resizes, margin calls)."""
        return spec.fill_mode == "next_open" and bars.complete and spec.borrow_rate_annual == 0.0

    def step(self) -> None:
        i = self.broker.i
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


OrderRow = tuple[int, str, str, int, float, float, float, float]


class Unsupported(Exception):
    """The array path cannot express this run; the caller falls back to the broker."""


def run_signals_arrays(
    spec: BacktestSpec, bars: AlignedBars, driver: SignalDriver
) -> Ledger | None:
    """The vectorized run as arrays, bit-identical to the broker; None when it cannot apply.

    Only sizing is sequential (each order is sized from the equity left by every earlier
    fill), so one tight loop walks the orders with the broker's exact arithmetic; fill prices,
    positions, cash, the curve and the trade columns are NumPy over whole arrays.
    """
    sym, bar = np.nonzero(driver.changed.T)[::-1]  # ordered by bar, then symbol (submit order)
    new = driver.targets[sym, bar]
    old = driver.previous[sym, bar]
    if bool(np.any(old * new > 0.0)):
        return None  # same-direction resizes split lots: the broker handles those
    book = _ArrayBook(spec, bars)
    try:
        book.run(sym, bar, new)
    except Unsupported:
        return None
    ledger = book.ledger(bars, sym, bar, new)
    risky = spec.allow_short or spec.margin_initial < 1.0
    return None if risky and _margin_call_possible(spec, bars, ledger) else ledger


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
    return bool(np.any((short | (curve.cash < 0.0)) & (gross > 0.0) & near))


class _ArrayBook:
    """Account state of the array path: the broker's arithmetic on plain floats and lists.

    Per order it appends one row; per fill one (bar, symbol, units after, cash after) event;
    a trade is a small list while open and a tuple once closed. Everything else is NumPy.
    """

    def __init__(self, spec: BacktestSpec, bars: AlignedBars) -> None:
        self.spec, self.costs = spec, spec.costs
        self.impact, self.step = spec.costs.price_impact, spec.unit_step
        self.bars = bars
        self.open_t = np.ascontiguousarray(bars.open.T)
        self.cash = float(spec.initial_cash)
        self.units = [0.0] * len(bars.symbols)
        self.held: list[int] = []  # symbols with a position, ascending (the broker's order)
        # Open trade per symbol: [id, sym, size, entry_bar, entry_price, entry_market, fee].
        self.lot: list[list[Any] | None] = [None] * len(bars.symbols)
        self.closed: list[tuple[Any, ...]] = []
        self.n_trades = 0
        self.events: list[tuple[int, int, float, float]] = []
        # Per order: (side, status, reason, fill_bar, fill_price, filled_units, commission,
        # market price).
        self.rows: list[OrderRow] = []
        self.row_bar = -1
        self.row: list[float] = []
        self.filled, self.fill_px, self.fee_sum, self.fill_bar = 0.0, math.nan, 0.0, -1

    # -------------------------------------------------------------- account values at the open

    def _prices(self, b: int) -> list[float]:
        if b != self.row_bar:
            self.row_bar, self.row = b, self.open_t[b].tolist()
        return self.row

    def equity(self, b: int) -> float:
        eq, units = self.cash, self.units
        held = self.held
        if not held:
            return eq
        row = self._prices(b)
        for s in held:
            eq += units[s] * row[s]
        return eq

    def gross(self, b: int) -> float:
        total, row, units = 0.0, self._prices(b), self.units
        for s in self.held:
            total += abs(units[s] * row[s])
        return total

    # -------------------------------------------------------------- orders

    def run(self, sym: np.ndarray, bar: np.ndarray, new: np.ndarray) -> None:
        n = self.bars.n_bars
        fill = bar + 1
        price = np.full(len(sym), np.nan)
        fills = fill < n
        price[fills] = self.bars.open[sym[fills], fill[fills]]
        order = self._order
        for s, i, target, px in zip(
            sym.tolist(), bar.tolist(), new.tolist(), price.tolist(), strict=True
        ):
            order(s, i, target, px, n)

    def _order(self, s: int, i: int, target: float, px: float, n: int) -> None:
        """One target change as the broker would see it: placed at bar i, filled at i + 1."""
        cur = self.units[s]
        self.filled, self.fill_px, self.fee_sum, self.fill_bar = 0.0, math.nan, 0.0, -1
        status, reason = ok.FILLED, ""
        if target == 0.0:
            side = -1 if cur > 0 else 1
            if i + 1 >= n:
                status, reason = ok.CANCELLED, "end of data"
            elif cur == 0.0:
                status, reason = ok.CANCELLED, "no position to close"
            else:
                self._fill(s, -cur, px, i + 1, ok.CLOSE)
        else:
            side = 1 if target > 0 else -1
            if i + 1 >= n:
                status, reason = ok.CANCELLED, "end of data"
            else:
                status, reason = self._open(s, side, abs(target), px, i + 1)
        self.rows.append(
            (side, status, reason, self.fill_bar, self.fill_px, self.filled, self.fee_sum, px)
        )

    def _open(self, s: int, side: int, fraction: float, px: float, b: int) -> tuple[str, str]:
        exec_px = px * (1.0 + side * self.impact)
        cur = self.units[s]
        if cur * side < 0.0:  # flip: close the opposite position first, then size anew
            self._fill(s, -cur, px, b, ok.MARKET)
        elif cur != 0.0:
            raise Unsupported("adding to a position")
        q = side * units_for_value(fraction * self.equity(b), exec_px, self.costs, self.step)
        try:
            if q == 0.0:
                raise Rejected("size rounds to zero")
            self._check(s, q, px, exec_px, b)
        except Rejected as exc:
            if self.filled:
                return ok.FILLED, f"partially filled: {exc}"
            return ok.REJECTED, str(exc)
        self._fill(s, q, px, b, ok.MARKET)
        return ok.FILLED, ""

    def _check(self, s: int, q: float, price: float, exec_px: float, b: int) -> None:
        """Broker._check_order, operation for operation."""
        notional = abs(q) * exec_px
        if notional < self.spec.min_order_value:
            raise Rejected(f"order value {notional:.2f} below minimum {self.spec.min_order_value}")
        cur = self.units[s]
        if abs(cur + q) <= abs(cur):
            return
        fee = self.costs.commission(notional)
        equity_after = self.equity(b) - fee - abs(q) * abs(exec_px - price)
        gross_after = self.gross(b) + (abs(cur + q) - abs(cur)) * price
        need = self.spec.margin_initial * gross_after
        if need > equity_after + MONEY_EPS * max(abs(equity_after), 1.0):
            raise Rejected(f"insufficient funds: needs {need:.2f}, equity {equity_after:.2f}")

    def _fill(self, s: int, q: float, price: float, b: int, kind: str) -> None:
        """Broker._fill for one lot per symbol: close it in full and/or open a new one."""
        impact = self.impact
        exec_px = price * (1.0 + (impact if q > 0 else -impact))
        fee = self.costs.commission(abs(q) * exec_px)
        self.cash -= q * exec_px + fee
        remaining = q
        lot = self.lot[s]
        if lot is not None and lot[2] * q < 0.0:
            size = lot[2]
            if abs(size) > abs(q):
                raise Unsupported("partial close")
            # Broker._close_lots: the lot's share of the fee is fee * |units / q| (here 1).
            self.closed.append((*lot[:6], lot[6] + fee * abs(size / q), b, exec_px, price, kind))
            self.lot[s] = None
            remaining += size
        after = 0.0
        if remaining != 0.0:
            self.n_trades += 1
            self.lot[s] = [self.n_trades, s, remaining, b, exec_px, price, fee * remaining / q]
            after = remaining
        was = self.units[s]
        self.units[s] = after
        if was == 0.0 and after != 0.0:
            bisect.insort(self.held, s)
        elif was != 0.0 and after == 0.0:
            self.held.remove(s)
        self.events.append((b, s, after, self.cash))
        prev = self.filled
        self.filled = prev + q
        self.fill_px = exec_px if prev == 0.0 else (self.fill_px * prev + exec_px * q) / (prev + q)
        self.fee_sum += fee
        self.fill_bar = b

    # -------------------------------------------------------------- the result

    def ledger(
        self, bars: AlignedBars, sym: np.ndarray, bar: np.ndarray, new: np.ndarray
    ) -> Ledger:
        last = bars.n_bars - 1
        still = [lot for lot in self.lot if lot is not None]  # by symbol, as the broker marks
        rows = self.closed + [
            (*lot, last, float(bars.close[lot[1], last]), float(bars.close[lot[1], last]), "")
            for lot in still
        ]
        cols = [np.array(c) for c in zip(*rows, strict=True)] if rows else [np.zeros(0)] * 11
        is_open = np.arange(len(rows)) >= len(self.closed)
        ev = np.array(self.events, dtype=np.float64).reshape(-1, 4)
        ev_bar, ev_sym = ev[:, 0].astype(np.int64), ev[:, 1].astype(np.int64)
        pos = [ev_sym == s for s in range(len(bars.symbols))]
        orders = (sym, bar, new, self.rows)
        return Ledger(
            ev_bar,
            ev[:, 3].copy(),
            [ev_bar[m] for m in pos],
            [ev[m, 2] for m in pos],
            trade_size=cols[2].astype(np.float64),
            trade_entry_price=cols[4].astype(np.float64),
            trade_exit_price=cols[8].astype(np.float64),
            trade_commission=cols[6].astype(np.float64),
            trade_borrow=np.zeros(len(rows)),
            trade_entry_bar=cols[3].astype(np.int64),
            trade_exit_bar=cols[7].astype(np.int64),
            trade_open=is_open,
            trades=lambda: _trade_objects(rows, len(self.closed), bars.symbols),
            orders=lambda: _order_objects(orders, bars.symbols),
        )


def _trade_objects(
    rows: list[tuple[Any, ...]], n_closed: int, symbols: tuple[str, ...]
) -> list[Trade]:
    """Trade objects for the records, built only when someone reads them."""
    out = []
    for k, (
        tid,
        s,
        size,
        entry_bar,
        entry_px,
        entry_mkt,
        fee,
        exit_bar,
        exit_px,
        exit_mkt,
        why,
    ) in enumerate(rows):
        t = Trade(tid, symbols[s], s, size, entry_bar, entry_px, entry_mkt, fee, None)
        t.exit_bar, t.exit_price, t.exit_market, t.exit_reason = exit_bar, exit_px, exit_mkt, why
        t.is_open = k >= n_closed
        out.append(t)
    return out


def _order_objects(
    orders: tuple[np.ndarray, np.ndarray, np.ndarray, list[OrderRow]],
    symbols: tuple[str, ...],
) -> list[Order]:
    sym, bar, new, rows = orders
    out = []
    for k, (s, i, target, row) in enumerate(
        zip(sym.tolist(), bar.tolist(), new.tolist(), rows, strict=True)
    ):
        side, status, reason, fill_bar, fill_px, filled, fee, px = row
        kind = ok.CLOSE if target == 0.0 else ok.MARKET
        o = Order(
            kind=kind, symbol=symbols[s], sym_index=s, side=side, placed_bar=i, eligible_bar=i + 1
        )
        o.id, o.fraction = k + 1, 1.0 if target == 0.0 else abs(target)
        o.status, o.reason = status, reason
        o.fill_bar, o.fill_price, o.filled_units, o.commission = fill_bar, fill_px, filled, fee
        o.market_price = px if fill_bar >= 0 else math.nan
        out.append(o)
    return out
