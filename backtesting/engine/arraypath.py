"""The account of the vectorized array path: the broker's arithmetic for signal orders.

Only the cash is sequential: each order is sized from the equity every earlier fill left. So
one loop walks the orders on plain Python floats (the same IEEE-754 doubles, in the broker's
operation order, hence bit-identical) and records each fill as four numbers: the order, the
signed units, the commission and the cash after it. Everything that follows from those -
positions, trades, fees per trade, order records - is NumPy over the fill columns.

The domain is what the array path accepts: market orders from target changes, at most one lot
per instrument (no resizes), fills at the next open on complete bars.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from backtesting.engine import kernel
from backtesting.engine import orders as ok
from backtesting.engine.bars import AlignedBars
from backtesting.engine.orders import Order
from backtesting.engine.result import Curve, Ledger
from backtesting.engine.sizing import MONEY_EPS, units_for_value
from backtesting.engine.spec import BacktestSpec
from backtesting.engine.trades import Trade

# Skipping the initial-margin check needs cash left over after the fill by more than this
# share of the amounts involved; the float error of that check is below 1e-13 of them for any
# realistic number of instruments, so the check cannot fail there (see _walk_orders).
SURE_PASS = 1e-6

Fate = tuple[str, str]  # (status, reason) of an order that is not plainly filled


class Unsupported(Exception):
    """The array path cannot express this run; the caller falls back to the broker."""


@dataclass(frozen=True)
class SignalOrders:
    """The orders of a signal run in submit order (by bar, then symbol)."""

    sym: np.ndarray
    bar: np.ndarray
    target: np.ndarray
    price: np.ndarray  # market price at the fill bar's open; NaN when there is no fill bar
    buy_price: np.ndarray  # price * (1 + impact): what a buy pays
    sell_price: np.ndarray  # price * (1 - impact): what a sell gets

    @classmethod
    def build(
        cls, spec: BacktestSpec, bars: AlignedBars, sym: np.ndarray, bar: np.ndarray, target: Any
    ) -> SignalOrders:
        price = np.full(len(sym), np.nan)
        fills = bar + 1 < bars.n_bars
        price[fills] = bars.open[sym[fills], bar[fills] + 1]
        impact = spec.costs.price_impact
        # Elementwise, the broker's price * (1.0 + (impact if buy else -impact)).
        return cls(sym, bar, target, price, price * (1.0 + impact), price * (1.0 + -impact))


@dataclass(frozen=True)
class Fills:
    """One row per fill in booking order; a flip is two rows (close, then open)."""

    order: np.ndarray
    closing: np.ndarray
    units: np.ndarray
    fee: np.ndarray
    cash: np.ndarray


def book_orders(
    spec: BacktestSpec, bars: AlignedBars, orders: SignalOrders
) -> tuple[Fills, Mapping[int, Fate], list[float]]:
    """Walk the orders; returns the fills, the fates of orders not plainly filled, the units.

    The compiled kernel walks them when it is loaded; ``_walk_orders`` is the reference it
    reproduces bit for bit, and it takes over whenever the kernel cannot (no library, or a
    lot search beyond int64). The kernel's fates become (status, reason) pairs only when the
    order records are read: a long run can refuse tens of thousands of orders.
    """
    live = int(np.searchsorted(orders.bar, bars.n_bars - 1))  # last-bar orders never fill
    walked = _kernel_walk(spec, bars, orders, live) if kernel.KERNEL is not None else None
    fates: Mapping[int, Fate]
    if walked is None:
        units = [0.0] * len(bars.symbols)
        found: dict[int, Fate] = {}
        cols: tuple[list[int], list[float], list[float], list[float]] = ([], [], [], [])
        _walk_orders(spec, bars, orders, live, units, found, cols)
        for k in range(live, len(orders.sym)):
            found[k] = (ok.CANCELLED, "end of data")
        raw = np.array(cols[0], dtype=np.int64)
        columns: tuple[np.ndarray, ...] = (
            np.array(cols[1], dtype=np.float64),
            np.array(cols[2], dtype=np.float64),
            np.array(cols[3], dtype=np.float64),
        )
        fates = found
    else:
        walk = walked
        raw, columns, units = (
            walk.fill_order,
            (walk.fill_units, walk.fill_fee, walk.fill_cash),
            walk.units.tolist(),
        )
        codes = (walk.fate, walk.fate_a, walk.fate_b)
        fates = KernelFates(codes, spec.min_order_value, live, len(orders.sym))
    closing = raw < 0
    fills = Fills(np.where(closing, ~raw, raw), closing, *columns)
    return fills, fates, units


class KernelFates(Mapping[int, Fate]):
    """The kernel's fate codes (int8 per walked order) as the (status, reason) mapping
    ``_walk_orders`` fills in, built on first access."""

    def __init__(
        self,
        codes: tuple[np.ndarray, np.ndarray, np.ndarray],
        min_value: float,
        live: int,
        n_orders: int,
    ) -> None:
        self._codes, self._min_value, self._live, self._n = codes, min_value, live, n_orders
        self._built: dict[int, Fate] | None = None

    def _all(self) -> dict[int, Fate]:
        if self._built is None:
            self._built = _decode_fates(*self._codes, self._min_value)
            for k in range(self._live, self._n):
                self._built[k] = (ok.CANCELLED, "end of data")
        return self._built

    def __getitem__(self, k: int) -> Fate:
        return self._all()[k]

    def __iter__(self) -> Iterator[int]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def _decode_fates(
    fate: np.ndarray, fate_a: np.ndarray, fate_b: np.ndarray, min_value: float
) -> dict[int, Fate]:
    """fate codes with their numbers (notional, or need and equity after) as Fate pairs."""
    fates: dict[int, Fate] = {}
    for k in np.flatnonzero(fate).tolist():
        code = int(fate[k])
        what, flipped = code & ~kernel.FATE_FLIPPED, bool(code & kernel.FATE_FLIPPED)
        if what == kernel.FATE_NO_POSITION:
            fates[k] = (ok.CANCELLED, "no position to close")
        elif what == kernel.FATE_ZERO_SIZE:
            fates[k] = _refused("size rounds to zero", flipped)
        elif what == kernel.FATE_BELOW_MINIMUM:
            fates[k] = _refused(_below_minimum(float(fate_a[k]), min_value), flipped)
        else:
            need, equity_after = float(fate_a[k]), float(fate_b[k])
            fates[k] = _refused(_no_funds(need, equity_after), flipped)
    return fates


def _kernel_walk(
    spec: BacktestSpec, bars: AlignedBars, orders: SignalOrders, live: int
) -> kernel.Walk | None:
    """kernel.tp_walk_orders on the live orders; None when the Python walk must do it."""
    compiled = kernel.KERNEL
    assert compiled is not None

    def head(column: np.ndarray, dtype: type) -> np.ndarray:
        return np.ascontiguousarray(column[:live], dtype=dtype)

    walk = compiled.walk_orders(
        head(orders.sym, np.int64),
        head(orders.bar, np.int64),
        head(orders.target, np.float64),
        head(orders.price, np.float64),
        head(orders.buy_price, np.float64),
        head(orders.sell_price, np.float64),
        np.ascontiguousarray(bars.open, dtype=np.float64),
        walk_params(spec),
    )
    if walk.status == kernel.UNSUPPORTED:
        raise Unsupported("adding to a position")
    if walk.status != kernel.OK:
        return None
    return walk


def walk_params(spec: BacktestSpec) -> np.ndarray:
    """The spec's numbers in the order of kernel.c's params array (P_CASH ... P_IMPACT)."""
    return np.array(walk_numbers(spec), dtype=np.float64)


def walk_numbers(spec: BacktestSpec) -> tuple[float, ...]:
    """walk_params as a tuple of floats (tp_signal_core takes them as arguments)."""
    costs = spec.costs
    return (
        float(spec.initial_cash),
        float(costs.commission_fixed),
        float(costs.commission_pct),
        float(costs.commission_min),
        float(spec.unit_step),
        float(spec.min_order_value),
        float(spec.margin_initial),
        float(not spec.allow_short and spec.margin_initial <= 1.0),
        SURE_PASS,
        MONEY_EPS,
        float(costs.price_impact),
    )


def _below_minimum(notional: float, min_value: float) -> str:
    return f"order value {notional:.2f} below minimum {min_value}"


def _no_funds(need: float, equity_after: float) -> str:
    return f"insufficient funds: needs {need:.2f}, equity {equity_after:.2f}"


def _walk_orders(
    spec: BacktestSpec,
    bars: AlignedBars,
    orders: SignalOrders,
    live: int,
    units: list[float],
    fates: dict[int, Fate],
    cols: tuple[list[int], list[float], list[float], list[float]],
) -> None:
    """The sequential part: Broker._close_position / _open_or_resize / _check_order / _fill.

    The reference the compiled kernel (kernel.c, tp_walk_orders) ports line by line.

    One function with everything in locals on purpose: this loop runs once per order (tens of
    thousands of times on long series) and calls, attribute look-ups and NumPy scalars would
    cost more than the arithmetic. A closing fill is recorded with the order index as ~k.
    """
    costs, step, min_value, margin = (
        spec.costs,
        spec.unit_step,
        spec.min_order_value,
        spec.margin_initial,
    )
    fixed, pct, cmin = costs.commission_fixed, costs.commission_pct, costs.commission_min
    # Long-only without leverage: equity after - need >= the cash left after the fill exactly.
    sure_pass_ok = not spec.allow_short and margin <= 1.0
    open_t = np.ascontiguousarray(bars.open.T)
    row: list[float] = []
    row_bar = -1
    held: list[int] = []  # instruments with a position, ascending: the broker's summation order
    add_k, add_q, add_fee, add_cash = cols[0].append, cols[1].append, cols[2].append, cols[3].append
    cash = float(spec.initial_cash)
    sym, bar = orders.sym[:live].tolist(), orders.bar[:live].tolist()
    target, price = orders.target[:live].tolist(), orders.price[:live].tolist()
    buy, sell = orders.buy_price[:live].tolist(), orders.sell_price[:live].tolist()
    for k in range(live):
        s, want, cur = sym[k], target[k], units[sym[k]]
        flipped = False
        if cur != 0.0 and (want == 0.0 or cur * want < 0.0):  # close, or the first half of a flip
            q = -cur
            x = buy[k] if q > 0.0 else sell[k]
            notional = abs(q) * x
            fee = fixed + pct * notional  # CostModel.commission, inline
            fee = (fee if fee > cmin else cmin) if notional > 0.0 else 0.0
            cash -= q * x + fee
            units[s] = 0.0
            held.remove(s)
            add_k(~k), add_q(q), add_fee(fee), add_cash(cash)
            if want == 0.0:
                continue
            flipped = True
        elif want == 0.0:
            fates[k] = (ok.CANCELLED, "no position to close")
            continue
        elif cur != 0.0:
            raise Unsupported("adding to a position")
        b, px = bar[k] + 1, price[k]
        x, side = (buy[k], 1) if want > 0.0 else (sell[k], -1)
        eq = cash
        if held:
            if b != row_bar:
                row_bar, row = b, open_t[b].tolist()
            for h in held:
                eq += units[h] * row[h]
        q = side * units_for_value(abs(want) * eq, x, costs, step)
        if q == 0.0:
            fates[k] = _refused("size rounds to zero", flipped)
            continue
        notional = abs(q) * x
        if notional < min_value:
            fates[k] = _refused(_below_minimum(notional, min_value), flipped)
            continue
        fee = fixed + pct * notional
        fee = (fee if fee > cmin else cmin) if notional > 0.0 else 0.0
        after = cash - (q * x + fee)
        scale = abs(cash) + abs(eq) + notional + fee
        if not (sure_pass_ok and after > SURE_PASS * scale):
            gross = 0.0
            for h in held:
                gross += abs(units[h] * row[h])
            equity_after = eq - fee - abs(q) * abs(x - px)
            # The broker's gross + (abs(cur + q) - abs(cur)) * price with cur == 0.0.
            need = margin * (gross + abs(q) * px)
            if need > equity_after + MONEY_EPS * max(abs(equity_after), 1.0):
                fates[k] = _refused(_no_funds(need, equity_after), flipped)
                continue
        cash = after
        units[s] = q
        bisect.insort(held, s)
        add_k(k), add_q(q), add_fee(fee), add_cash(cash)


def _refused(reason: str, flipped: bool) -> Fate:
    # A flip whose opening half is refused still closed the old position: filled, partially.
    return (ok.FILLED, f"partially filled: {reason}") if flipped else (ok.REJECTED, reason)


# ---------------------------------------------------------------------------- the ledger


def fills_ledger(
    bars: AlignedBars,
    orders: SignalOrders,
    fills: Fills,
    fates: Mapping[int, Fate],
    units: list[float],
) -> Ledger:
    """Positions, cash and trade columns from the fills, as the broker would have left them."""
    k = fills.order
    f_sym, f_bar = orders.sym[k], orders.bar[k] + 1
    f_price = np.where(fills.units > 0.0, orders.buy_price[k], orders.sell_price[k])
    after = np.where(fills.closing, 0.0, fills.units)
    by_sym, bounds = _by_symbol(f_sym, len(bars.symbols))
    # Slices, not np.split: its Python-level set-up cost more than the rest of the grouping
    # in a sweep of short runs.
    ends = bounds.tolist()
    groups = [by_sym[lo:hi] for lo, hi in zip([0, *ends[:-1]], ends, strict=True)]
    trades = _trade_columns(bars, orders, fills, f_bar, f_price, by_sym, bounds)
    return Ledger(
        f_bar,
        fills.cash,
        [f_bar[g] for g in groups],
        [after[g] for g in groups],
        trade_size=trades["trade_size"],
        trade_entry_price=trades["trade_entry_price"],
        trade_exit_price=trades["trade_exit_price"],
        trade_commission=trades["trade_commission"],
        trade_borrow=trades["trade_borrow"],
        trade_entry_bar=trades["trade_entry_bar"],
        trade_exit_bar=trades["trade_exit_bar"],
        trade_open=trades["trade_open"],
        trades=lambda: _trade_objects(trades, bars.symbols),
        orders=lambda: _order_objects(
            orders, fills, f_price, fates, units, bars.symbols, bars.n_bars
        ),
    )


def _by_symbol(f_sym: np.ndarray, n_sym: int) -> tuple[np.ndarray, np.ndarray]:
    """Fill indices grouped by symbol, each group in booking order, and the groups' ends."""
    by_sym = np.argsort(f_sym, kind="stable")
    return by_sym, np.cumsum(np.bincount(f_sym, minlength=n_sym))


def core_ledger(spec: BacktestSpec, bars: AlignedBars, core: kernel.CoreOutput) -> Ledger:
    """The Ledger (with its curve) of a run kernel.tp_signal_core booked in full: what
    SignalOrders.build, book_orders, fills_ledger and build_curve give, from its arrays."""
    counts, take = core.counts, core.take
    nf, nt = counts[kernel.C_FILLS], counts[kernel.C_TRADES]
    n_sym, n = len(bars.symbols), bars.n_bars
    bounds = list(itertools.pairwise(take("pos_start", n_sym + 1).tolist()))
    pos_bars, pos_values = take("pos_bars", nf), take("pos_values", nf)
    records = _CoreRecords(spec, bars, core)
    return Ledger(
        take("fill_bar", nf),
        take("fill_cash", nf),
        [pos_bars[lo:hi] for lo, hi in bounds],
        [pos_values[lo:hi] for lo, hi in bounds],
        trade_size=take("trade_size", nt),
        trade_entry_price=take("trade_entry_price", nt),
        trade_exit_price=take("trade_exit_price", nt),
        trade_commission=take("trade_commission", nt),
        trade_borrow=np.zeros(nt),
        trade_entry_bar=take("trade_entry_bar", nt),
        trade_exit_bar=take("trade_exit_bar", nt),
        trade_open=take("trade_open", nt),
        trades=records.trades,
        orders=records.orders,
        curve=Curve(take("equity", n), take("cash", n), take("exposure", n)),
        curve_cash=float(spec.initial_cash),
    )


class _CoreRecords:
    """The trade and order objects of a core run. Only they read the order and fill columns,
    so those are taken here, when the records are built: the curve and the statistics never
    need them, and on a short run each ``take`` is a noticeable part of the overhead."""

    def __init__(self, spec: BacktestSpec, bars: AlignedBars, core: kernel.CoreOutput) -> None:
        self.spec, self.bars, self.core = spec, bars, core

    def _booked(self) -> tuple[SignalOrders, Fills, np.ndarray, np.ndarray]:
        """The orders, the fills and each fill's bar and price."""
        counts, take = self.core.counts, self.core.take
        m, nf = counts[kernel.C_CHANGES], counts[kernel.C_FILLS]
        orders = SignalOrders(
            *(take(name, m) for name in ("sym", "bar", "target", "price", "buy", "sell"))
        )
        fills = Fills(
            *(
                take(name, nf)
                for name in ("fill_order", "closing", "fill_units", "fill_fee", "fill_cash")
            )
        )
        return orders, fills, take("fill_bar", nf), take("fill_price", nf)

    def trades(self) -> list[Trade]:
        orders, fills, f_bar, f_price = self._booked()
        bars = self.bars
        by_sym, ends = _by_symbol(orders.sym[fills.order], len(bars.symbols))
        cols = _trade_columns(bars, orders, fills, f_bar, f_price, by_sym, ends)
        return _trade_objects(cols, bars.symbols)

    def orders(self) -> list[Order]:
        orders, fills, _, f_price = self._booked()
        bars, take = self.bars, self.core.take
        live = self.core.counts[kernel.C_LIVE]
        codes = (take("fate", live).view(np.int8), take("fate_a", live), take("fate_b", live))
        fates = KernelFates(codes, self.spec.min_order_value, live, len(orders.sym))
        units = take("units", len(bars.symbols)).tolist()
        return _order_objects(orders, fills, f_price, fates, units, bars.symbols, bars.n_bars)


def _trade_columns(
    bars: AlignedBars,
    orders: SignalOrders,
    fills: Fills,
    f_bar: np.ndarray,
    f_price: np.ndarray,
    by_sym: np.ndarray,
    bounds: np.ndarray,
) -> dict[str, np.ndarray]:
    """Closed trades in closing order, then open ones by symbol (marked at the last close).

    A fill either opens a lot (from flat) or closes the symbol's one lot in full, so each
    closing fill pairs with the fill before it in that symbol's sequence.
    """
    last = bars.n_bars - 1
    opening = ~fills.closing
    trade_id = np.cumsum(opening)  # the broker numbers trades as lots open
    # Broker._fill: the opening fill's share of its fee is fee * remaining / q (remaining == q).
    share = fills.fee * fills.units / fills.units
    rank = np.empty_like(by_sym)
    rank[by_sym] = np.arange(len(by_sym))
    shut = np.flatnonzero(fills.closing)
    entry = by_sym[rank[shut] - 1]
    ends = by_sym[bounds[bounds > np.r_[0, bounds[:-1]]] - 1]  # last fill of each traded symbol
    still = ends[opening[ends]]
    lots = np.concatenate([entry, still])
    last_close = bars.close[orders.sym[fills.order[still]], last]
    k_shut = fills.order[shut]
    return {
        "trade_size": fills.units[lots],
        "trade_entry_price": f_price[lots],
        "trade_exit_price": np.concatenate([f_price[shut], last_close]),
        # Broker._close_lots: the closing fill's share is fee * |units / q|.
        "trade_commission": np.concatenate(
            [
                share[entry] + fills.fee[shut] * np.abs(fills.units[entry] / fills.units[shut]),
                share[still],
            ]
        ),
        "trade_borrow": np.zeros(len(lots)),
        "trade_entry_bar": f_bar[lots],
        "trade_exit_bar": np.concatenate([f_bar[shut], np.full(len(still), last)]),
        "trade_open": np.arange(len(lots)) >= len(shut),
        "_id": trade_id[lots],
        "_sym": orders.sym[fills.order[lots]],
        "_entry_market": orders.price[fills.order[lots]],
        "_exit_market": np.concatenate([orders.price[k_shut], last_close]),
        "_flip": orders.target[k_shut] != 0.0,
    }


def _trade_objects(cols: dict[str, np.ndarray], symbols: tuple[str, ...]) -> list[Trade]:
    """Trade objects for the records, built only when someone reads them."""
    out = []
    n_closed = len(cols["_flip"])
    why = [ok.MARKET if flip else ok.CLOSE for flip in cols["_flip"].tolist()]
    rows = zip(
        *(
            cols[name].tolist()
            for name in (
                "_id",
                "_sym",
                "trade_size",
                "trade_entry_bar",
                "trade_entry_price",
                "_entry_market",
                "trade_commission",
                "trade_exit_bar",
                "trade_exit_price",
                "_exit_market",
            )
        ),
        strict=True,
    )
    for j, (
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
    ) in enumerate(rows):
        t = Trade(tid, symbols[s], s, size, entry_bar, entry_px, entry_mkt, fee, None)
        t.exit_bar, t.exit_price, t.exit_market = exit_bar, exit_px, exit_mkt
        t.is_open = j >= n_closed
        t.exit_reason = "" if t.is_open else why[j]
        out.append(t)
    return out


def _order_objects(
    orders: SignalOrders,
    fills: Fills,
    f_price: np.ndarray,
    fates: Mapping[int, Fate],
    units: list[float],
    symbols: tuple[str, ...],
    n_bars: int,
) -> list[Order]:
    """Order objects with the broker's per-order totals (a flip is two fills of one order)."""
    n, last = len(orders.sym), n_bars - 1
    filled, fee, px = [0.0] * n, [0.0] * n, [math.nan] * n
    first_q: dict[int, float] = {}
    for k, q, f, x in zip(
        fills.order.tolist(),
        fills.units.tolist(),
        fills.fee.tolist(),
        f_price.tolist(),
        strict=True,
    ):
        prev = filled[k]
        filled[k] = prev + q
        px[k] = x if prev == 0.0 else (px[k] * prev + x * q) / (prev + q)
        fee[k] += f
        first_q.setdefault(k, q)
    out = []
    for k, (s, i, want, mkt) in enumerate(
        zip(
            orders.sym.tolist(),
            orders.bar.tolist(),
            orders.target.tolist(),
            orders.price.tolist(),
            strict=True,
        )
    ):
        if want == 0.0:  # a close sells a long; with nothing held (or not yet) it says buy
            cur = -first_q[k] if k in first_q else (units[s] if i == last else 0.0)
            side = -1 if cur > 0 else 1
        else:
            side = 1 if want > 0 else -1
        o = Order(
            kind=ok.CLOSE if want == 0.0 else ok.MARKET,
            symbol=symbols[s],
            sym_index=s,
            side=side,
            placed_bar=i,
            eligible_bar=i + 1,
        )
        o.id, o.fraction = k + 1, 1.0 if want == 0.0 else abs(want)
        o.status, o.reason = fates.get(k, (ok.FILLED, ""))
        filled_here = k in first_q
        o.fill_bar = i + 1 if filled_here else -1
        o.fill_price, o.filled_units, o.commission = px[k], filled[k], fee[k]
        o.market_price = mkt if filled_here else math.nan
        out.append(o)
    return out
