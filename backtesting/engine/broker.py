"""The simulated broker: cash, positions, fills, costs and margin on the aligned clock.

Within one bar the broker works in a fixed order (documented in docs/strategy-guide.md):
1. day orders from an earlier session expire;
2. market and close orders fill at the open;
3. limit / stop / stop-limit orders fill where the bar's range reaches them (a gap: at the open);
   a stop entry filled inside the bar takes the exits that bar provably reaches after the fill;
4. stop-loss / take-profit / trailing-stop exits of open trades, as one-cancels-other groups;
then, at the close: trailing levels move, borrow cost is charged, maintenance margin is checked.
"""

from __future__ import annotations

import math

import numpy as np

from backtesting.engine import orders as ok
from backtesting.engine.bars import AlignedBars
from backtesting.engine.orders import NaN, Order, limit_price, trigger_price
from backtesting.engine.sizing import MONEY_EPS, floor_to_step, units_for_value
from backtesting.engine.spec import BacktestSpec
from backtesting.engine.trades import Trade
from backtesting.engine.views import Clock

DAY_NS = 86_400 * 10**9
YEAR_NS = 365.25 * DAY_NS
MARKET_KINDS = frozenset({ok.MARKET, ok.CLOSE, ok.TARGET})
ENTRY_KINDS = frozenset({ok.LIMIT, ok.STOP, ok.STOP_LIMIT})
EXIT_KINDS = frozenset({ok.STOP_LOSS, ok.TAKE_PROFIT, ok.TRAILING_STOP})


class Rejected(Exception):
    """Raised inside the broker to turn an order into ``rejected`` with a reason."""


class Broker:
    """Mutable account state for one run. Not part of the public API."""

    def __init__(self, spec: BacktestSpec, bars: AlignedBars) -> None:
        self.spec, self.costs = spec, spec.costs
        self.impact, self.step = spec.costs.price_impact, spec.unit_step
        self.symbols = bars.symbols
        self.O, self.H, self.L, self.C = bars.open, bars.high, bars.low, bars.close
        self.has_bar = bars.has_bar
        self.cash = float(spec.initial_cash)
        self.units = [0.0] * len(bars.symbols)
        self.open_trades: list[list[Trade]] = [[] for _ in bars.symbols]
        self.closed_trades: list[Trade] = []
        self.orders: list[Order] = []
        self.pending: list[Order] = []
        self.trailing: list[Trade] = []
        self.pos_events: list[list[tuple[int, float]]] = [[] for _ in bars.symbols]
        self.cash_events: list[tuple[int, float]] = []
        self._last_cash = self.cash
        self.timestamps = bars.timestamps
        self.borrow_rate = spec.borrow_rate_annual
        # Built on first use (most runs have no day orders and no borrow); declared here so
        # the instance keeps one attribute layout (setting new ones later slows every lookup).
        self._day: np.ndarray | None = None
        self._borrow_per_bar: np.ndarray | None = None
        # The current bar, shared with the strategy's views: the event loop advances it once per
        # bar for both (equity() and positions read it from next()).
        self.clock = Clock()
        # The price rows read one value at a time (fills at the open, equity at the mark):
        # indexing a row's memoryview gives the same Python float as float(array[s, i]) at a
        # third of its cost. ``mark`` is the open's rows while filling, the close's after.
        self.open_rows = _rows(self.O)
        self.close_rows = _rows(self.C)
        self.mark = self.close_rows
        # Every instrument has every bar: the per-order has_bar lookup can be skipped.
        self.complete = bars.complete
        self.halted = False
        self._dirty = False
        # Long-only without leverage can neither owe borrow nor breach a maintenance margin of
        # at most 100 % (its equity is at least its exposure); above 100 % it can.
        self.risk_checks = (
            spec.allow_short or spec.margin_initial < 1.0 or spec.margin_maintenance > 1.0
        )
        self.n_trades = 0
        # Set by the first day order: until then there is nothing to expire at a bar's open.
        self.day_orders = False

    @property
    def day(self) -> np.ndarray:
        """UTC day number of every bar."""
        if self._day is None:
            self._day = self.timestamps // DAY_NS
        return self._day

    @property
    def borrow_per_bar(self) -> np.ndarray:
        """Borrow rate per bar as a fraction of the short value."""
        if self._borrow_per_bar is None:
            # Borrow accrues on calendar time since the previous bar, so it does not depend on
            # the bar frequency or on weekends being absent from the data.
            elapsed = np.diff(self.timestamps, prepend=self.timestamps[0]) / YEAR_NS
            self._borrow_per_bar = self.borrow_rate * elapsed
        return self._borrow_per_bar

    # ------------------------------------------------------------------ account values

    def equity(self) -> float:
        """Cash plus positions marked at the phase's price (open while filling, close after)."""
        eq = self.cash
        i, mark = self.clock.i, self.mark
        for s, u in enumerate(self.units):
            if u != 0.0:
                eq += u * mark[s][i]
        return eq

    def gross_exposure(self) -> float:
        total = 0.0
        i, mark = self.clock.i, self.mark
        for s, u in enumerate(self.units):
            if u != 0.0:
                total += abs(u * mark[s][i])
        return total

    # ------------------------------------------------------------------ order book

    def submit(self, order: Order) -> Order:
        order.id = len(self.orders) + 1
        order._engine = self
        self.orders.append(order)
        if order.tif == "day":
            self.day_orders = True
        if self.halted:
            self._finish(order, ok.REJECTED, "account depleted")
        else:
            self.pending.append(order)
        return order

    def cancel_order(self, order: Order, reason: str) -> None:
        self._finish(order, ok.CANCELLED, reason)

    def _finish(self, order: Order, status: str, reason: str) -> None:
        order.status, order.reason = status, reason
        # The pending list is rebuilt lazily (see _compact) so cancelling stays O(1).
        self._dirty = True

    def _compact(self) -> None:
        if self._dirty:
            # In place: the event loop holds this list (one lookup per bar saved).
            pending = self.pending
            if len(pending) == 1 and pending[0].status != ok.PENDING:
                pending.clear()  # the usual case: the one order of the bar is done
            else:
                pending[:] = [o for o in pending if o.status == ok.PENDING]
            self._dirty = False

    # ------------------------------------------------------------------ one bar

    def process_bar(self, i: int) -> None:
        """Fill what bar ``i`` fills, in the documented order; marks switch to the close after."""
        self.clock.i = i
        self.mark = self.open_rows
        pending = self.pending
        if pending:
            if self.day_orders:
                self._expire_day_orders(i)
            # Plain iteration on purpose: exit orders attached by a fill are appended and must be
            # seen by the exit pass of this same bar when the entry filled at the open (they
            # are seen by this first pass too, which is how ``priced`` learns of them).
            complete, opens = self.complete, self.open_rows
            priced = False  # any limit, stop or exit order: else the other passes have no work
            for o in pending:  # _eligible inlined: every order placed passes here
                if o.kind not in MARKET_KINDS:
                    priced = True
                elif (
                    o.status == ok.PENDING
                    and o.eligible_bar <= i
                    and (complete or self.has_bar[o.sym_index, i])
                ):
                    self._execute(o, opens[o.sym_index][i], i, True)
            if priced:
                for o in pending:
                    if o.kind in ENTRY_KINDS and self._eligible(o, i):
                        self._try_entry(o, i)
                for o in pending:
                    if o.kind in EXIT_KINDS and self._eligible(o, i):
                        self._try_exit_group(o.trade, i)
            self._compact()
        self.mark = self.close_rows

    def fill_market_at_close(self, i: int) -> None:
        """The labelled ``same_close`` mode: market orders placed this bar fill at its close."""
        for o in self.pending:
            # The strategy may have cancelled it in the same next(): still listed, not pending.
            if (
                o.kind in MARKET_KINDS
                and o.status == ok.PENDING
                and o.eligible_bar == i
                and self.has_bar[o.sym_index, i]
            ):
                self._execute(o, self.close_rows[o.sym_index][i], i, False)
        self._compact()

    def close_bar(self, i: int) -> None:
        """Close-of-bar risk: trailing levels, borrow cost, maintenance margin."""
        if self.trailing:
            self._update_trailing(i)
        if not self.risk_checks:
            return
        if self.borrow_rate > 0.0 and min(self.units) < 0.0:
            self._charge_borrow(i)
        # Without shorts or borrowed cash, equity >= exposure >= maintenance * exposure while the
        # maintenance is at most 1, so the check can only fire when either exists (or the
        # maintenance is above 1); skipping it keeps long-only runs fast.
        mm = self.spec.margin_maintenance
        if mm > 0.0 and (self.cash < 0.0 or min(self.units) < 0.0 or mm > 1.0):
            self._check_maintenance(i)

    def record_cash(self, i: int) -> None:
        if self.cash != self._last_cash:
            self.cash_events.append((i, self.cash))
            self._last_cash = self.cash

    def _eligible(self, o: Order, i: int) -> bool:
        return (
            o.status == ok.PENDING
            and o.eligible_bar <= i
            and (self.complete or bool(self.has_bar[o.sym_index, i]))
        )

    def _expire_day_orders(self, i: int) -> None:
        day = self.day
        for o in self.pending:
            # Orders cancelled in the last next() are still listed: only pending ones expire.
            if (
                o.tif == "day"
                and o.status == ok.PENDING
                and o.eligible_bar < i
                and day[i] != day[o.eligible_bar]
            ):
                self._finish(o, ok.EXPIRED, "day order not filled in its session")

    # ------------------------------------------------------------------ triggering

    def _try_entry(self, o: Order, i: int) -> None:
        s = o.sym_index
        bar = (float(self.O[s, i]), float(self.H[s, i]), float(self.L[s, i]))
        # A stop (or a stop-limit filling at its trigger) fills while the price moves through
        # its level, which decides what of the bar provably comes after the fill.
        through_stop = o.kind == ok.STOP or (o.kind == ok.STOP_LIMIT and not o.triggered)
        if o.kind == ok.LIMIT:
            price = limit_price(o.side, o.limit, *bar)
        elif o.kind == ok.STOP:
            price = trigger_price(o.side, o.stop, *bar)
        else:
            price = self._stop_limit_price(o, bar)
        if not math.isnan(price):
            self._execute(o, price, i, price == bar[0], through_stop)

    def _stop_limit_price(self, o: Order, bar: tuple[float, float, float]) -> float:
        if o.triggered:
            return limit_price(o.side, o.limit, *bar)
        hit = trigger_price(o.side, o.stop, *bar)
        if math.isnan(hit):
            return NaN
        o.triggered = True
        # Once triggered it is a limit order; within the trigger bar we only know the price at
        # the trigger, so it fills there if that is inside the limit, else from the next bar on.
        inside = hit <= o.limit if o.side > 0 else hit >= o.limit
        return hit if inside else NaN

    def _try_exit_group(self, trade: Trade | None, i: int) -> None:
        """SL / TP / trailing of one trade as one-cancels-other; both hit -> assume the worse."""
        if trade is None or not trade.is_open:
            return
        s = trade.sym_index
        o, h, low = float(self.O[s, i]), float(self.H[s, i]), float(self.L[s, i])
        side = -1 if trade.size > 0 else 1
        stop_order = self._tightest_stop(trade, i)
        stop_px = trigger_price(side, stop_order.stop, o, h, low) if stop_order else NaN
        tp = trade.tp_order
        tp_px = NaN
        if tp is not None and tp.status == ok.PENDING and tp.eligible_bar <= i:
            tp_px = limit_price(side, tp.limit, o, h, low)
        if (
            stop_order is not None
            and not math.isnan(stop_px)
            and (math.isnan(tp_px) or stop_px == o or tp_px != o)
        ):
            if not math.isnan(tp_px) and stop_px != o:
                trade.ambiguous = True  # both inside the bar: the order of touches is unknown
            self._execute(stop_order, stop_px, i, stop_px == o)
        elif tp is not None and not math.isnan(tp_px):
            self._execute(tp, tp_px, i, tp_px == o)

    def _exit_in_entry_bar(self, trade: Trade, i: int) -> None:
        """Exits of a trade a stop entry opened inside bar ``i``: only what the bar proves.

        The price reached the entry level moving toward the take-profit, so every price beyond
        the entry on that side came after the fill: a take-profit the bar reached was touched
        after the entry. A stop-loss the bar reached may have been touched before the entry or
        after it; with both reached the order is unknown and the worse (the stop) is assumed,
        as for any bar. With the take-profit not reached, nothing is proven: exits wait.
        """
        tp = trade.tp_order
        if tp is None or tp.status != ok.PENDING:
            return
        s, entry, long = trade.sym_index, trade.entry_market, trade.size > 0
        h, low = float(self.H[s, i]), float(self.L[s, i])
        if not (h >= tp.limit if long else low <= tp.limit):
            return
        stop = self._tightest_stop(trade, i + 1)  # the exits just attached, live from i + 1
        if stop is not None and (low <= stop.stop if long else h >= stop.stop):
            # A stop level at or beyond the entry is crossed at the fill itself (no ambiguity).
            trade.ambiguous = stop.stop < entry if long else stop.stop > entry
            px = min(stop.stop, entry) if long else max(stop.stop, entry)
            self._execute(stop, px, i, False)
        else:
            px = max(tp.limit, entry) if long else min(tp.limit, entry)
            self._execute(tp, px, i, False)

    def _tightest_stop(self, trade: Trade, i: int) -> Order | None:
        """The stop-loss or trailing stop of ``trade`` live on bar ``i`` that is met first."""
        best: Order | None = None
        for o in (trade.sl_order, trade.trail_order):
            if o is None or o.status != ok.PENDING or o.eligible_bar > i:
                continue
            # For a long the higher stop is touched first on the way down (mirror for shorts).
            if best is None or (o.stop > best.stop if trade.size > 0 else o.stop < best.stop):
                best = o
        return best

    # ------------------------------------------------------------------ execution

    def _execute(
        self, o: Order, price: float, i: int, at_open: bool, through_stop: bool = False
    ) -> None:
        # Positional flags: called for every fill, and keyword arguments cost more to pass.
        try:
            if o.trade is not None:
                self._exit_trade(o, price, i)
            elif o.kind == ok.CLOSE:
                self._close_position(o, price, i)
            else:
                self._open_or_resize(o, price, i, at_open, through_stop)
        except Rejected as exc:
            if o.filled_units:
                o.reason = f"partially filled: {exc}"
            else:
                self._finish(o, ok.REJECTED, str(exc))

    def _exit_trade(self, o: Order, price: float, i: int) -> None:
        trade = o.trade
        assert trade is not None
        if not trade.is_open:
            self._finish(o, ok.CANCELLED, "trade already closed")
            return
        self._fill(o, -trade.size, price, i, only=trade)

    def _close_position(self, o: Order, price: float, i: int) -> None:
        cur = self.units[o.sym_index]
        if cur == 0.0:
            self._finish(o, ok.CANCELLED, "no position to close")
            return
        fraction = 1.0 if math.isnan(o.fraction) else o.fraction
        units = abs(cur) if fraction >= 1.0 else floor_to_step(abs(cur) * fraction, self.step)
        if units <= 0.0:
            raise Rejected("size rounds to zero")
        self._fill(o, -math.copysign(units, cur), price, i)

    def _open_or_resize(
        self, o: Order, price: float, i: int, at_open: bool, through_stop: bool = False
    ) -> None:
        s = o.sym_index
        exec_px = price * (1.0 + o.side * self.impact)
        equity = NaN  # the account's equity before this fill, once something needed it
        if o.kind == ok.TARGET:
            equity = self.equity()
            q = self._target_delta(o, exec_px, equity)
        elif not math.isnan(o.units):
            q = self._units_delta(o)
        else:
            cur = self.units[s]
            if cur * o.side < 0.0:  # flip: close the opposite position first, then size anew
                self._fill(o, -cur, price, i)
            if o.side < 0 and not self.spec.allow_short:
                if not o.filled_units:
                    raise Rejected("shorting disabled")
                return
            if not math.isnan(o.value):
                budget = o.value
            else:
                equity = self.equity()
                if not math.isnan(o.fraction):
                    budget = o.fraction * equity
                else:  # all available: what initial margin leaves free
                    budget = equity / self.spec.margin_initial - self.gross_exposure()
            q = o.side * units_for_value(budget, exec_px, self.costs, self.step)
        if q == 0.0:
            # What raising Rejected would do, without an exception: common when equity runs
            # short of one unit, and the caller's handler costs more than the order itself.
            reason = "size rounds to zero" if o.kind != ok.TARGET else "already at target"
            if o.filled_units:
                o.reason = f"partially filled: {reason}"
            else:
                self._finish(o, ok.REJECTED, reason)
            return
        self._check_order(o, q, price, exec_px, equity)
        trade = self._fill(o, q, price, i)
        # Exits only when the order asked for any (sl, tp and trail all NaN is the usual case).
        if trade is not None and (o.sl == o.sl or o.tp == o.tp or o.trail == o.trail):
            self._attach_exits(o, trade, i if at_open else i + 1)
            if through_stop and not at_open:
                self._exit_in_entry_bar(trade, i)

    def _units_delta(self, o: Order) -> float:
        q = o.side * floor_to_step(o.units, self.step)
        if o.side < 0 and not self.spec.allow_short:
            long_units = max(self.units[o.sym_index], 0.0)
            if long_units <= 0.0:
                raise Rejected("shorting disabled")
            q = max(q, -long_units)  # sells are trimmed to the long position
        return q

    def _target_delta(self, o: Order, exec_px: float, equity: float) -> float:
        want = units_for_value(o.fraction * equity, exec_px, self.costs, self.step)
        return o.side * want - self.units[o.sym_index]

    def _check_order(self, o: Order, q: float, price: float, exec_px: float, equity: float) -> None:
        """Reject what the account cannot carry; ``equity`` is NaN when not yet computed."""
        cur = self.units[o.sym_index]
        if abs(cur + q) <= abs(cur):
            return  # reducing exposure is always allowed: an exit, whatever its value
        notional = abs(q) * exec_px
        if notional < self.spec.min_order_value:
            raise Rejected(f"order value {notional:.2f} below minimum {self.spec.min_order_value}")
        fee = self.costs.commission(notional)
        if equity != equity:
            equity = self.equity()
        equity_after = equity - fee - abs(q) * abs(exec_px - price)
        gross_after = self.gross_exposure() + (abs(cur + q) - abs(cur)) * price
        need = self.spec.margin_initial * gross_after
        if need > equity_after + MONEY_EPS * max(abs(equity_after), 1.0):
            raise Rejected(f"insufficient funds: needs {need:.2f}, equity {equity_after:.2f}")

    def _fill(
        self, o: Order, q: float, price: float, i: int, only: Trade | None = None
    ) -> Trade | None:
        """Book ``q`` signed units at market ``price``; returns the opened trade if any."""
        s = o.sym_index
        exec_px = price * (1.0 + (self.impact if q > 0 else -self.impact))
        fee = self.costs.commission(abs(q) * exec_px)
        self.cash -= q * exec_px + fee
        lots = self.open_trades[s]
        # Only a fill against open lots of the other side closes anything (see _close_lots).
        if only is not None or (lots and not lots[0].size * q > 0.0):
            remaining = self._close_lots(o, q, price, exec_px, fee, i, only)
        else:
            remaining = q
        opened = None
        if remaining != 0.0:
            self.n_trades += 1
            share = fee * remaining / q
            opened = Trade(
                self.n_trades, self.symbols[s], s, remaining, i, exec_px, price, share, o.tag
            )
            lots.append(opened)
        # fsum of one lot is its size exactly; of none, 0.0.
        n_lots = len(lots)
        self.units[s] = (
            lots[0].size if n_lots == 1 else math.fsum(t.size for t in lots) if n_lots else 0.0
        )
        self.pos_events[s].append((i, self.units[s]))
        # A flip is two fills at one market price; the order shows their size-weighted average.
        prev = o.filled_units
        o.filled_units = prev + q
        o.fill_price = exec_px if prev == 0.0 else (o.fill_price * prev + exec_px * q) / (prev + q)
        o.market_price = price
        o.commission += fee
        o.fill_bar, o.status = i, ok.FILLED
        self._dirty = True
        return opened

    def _close_lots(
        self,
        o: Order,
        q: float,
        price: float,
        exec_px: float,
        fee: float,
        i: int,
        only: Trade | None,
    ) -> float:
        lots = [only] if only is not None else list(self.open_trades[o.sym_index])
        remaining = q
        for t in lots:
            if remaining == 0.0 or t.size * remaining > 0.0:
                break
            units = t.size if abs(t.size) <= abs(remaining) else -remaining
            if units == t.size:  # the whole lot leaves the open lots, and its exits go
                part = t
                self.open_trades[t.sym_index].remove(t)
                for c in (t.sl_order, t.tp_order, t.trail_order):  # t.contingent_orders()
                    if c is not None and c.status == ok.PENDING:
                        self._finish(c, ok.CANCELLED, "trade closed (one-cancels-other)")
            else:
                part = t.split(units, self._next_trade_id())
            part.exit_bar, part.exit_price, part.exit_market = i, exec_px, price
            part.commission += fee * abs(units / q)
            part.exit_reason = o.kind
            part.is_open = False
            self.closed_trades.append(part)
            remaining += units
        return remaining

    def _next_trade_id(self) -> int:
        self.n_trades += 1
        return self.n_trades

    def _attach_exits(self, o: Order, trade: Trade, eligible: int) -> None:
        side = -1 if trade.size > 0 else 1
        if not math.isnan(o.sl):
            trade.sl_order = self._exit_order(o, trade, eligible, ok.STOP_LOSS, stop=o.sl)
        if not math.isnan(o.tp):
            trade.tp_order = self._exit_order(o, trade, eligible, ok.TAKE_PROFIT, limit=o.tp)
        if not math.isnan(o.trail):
            level = trade.entry_market * (1.0 + side * o.trail)
            trade.trail_order = self._exit_order(
                o, trade, eligible, ok.TRAILING_STOP, stop=level, trail=o.trail
            )
            self.trailing.append(trade)

    def _exit_order(
        self, o: Order, trade: Trade, eligible: int, kind: str, **prices: float
    ) -> Order:
        # A method, not a closure inside _attach_exits: the closure's cells were built on
        # every fill, exits or not.
        child = Order(
            kind=kind,
            symbol=o.symbol,
            sym_index=o.sym_index,
            side=-1 if trade.size > 0 else 1,
            tag=o.tag,
            placed_bar=trade.entry_bar,
            eligible_bar=eligible,
            parent_id=o.id,
            trade=trade,
            **prices,
        )
        return self.submit(child)

    # ------------------------------------------------------------------ close-of-bar risk

    def _update_trailing(self, i: int) -> None:
        keep = []
        for t in self.trailing:
            o = t.trail_order
            if not t.is_open or o is None or o.status != ok.PENDING:
                continue
            keep.append(t)
            s = t.sym_index
            if not self.has_bar[s, i]:
                continue
            # The level moves only at the close, so a bar's own high never raises the stop that
            # the same bar is tested against (that would peek inside the bar).
            if t.size > 0:
                t.trail_extreme = max(t.trail_extreme, float(self.H[s, i]))
                o.stop = t.trail_extreme * (1.0 - o.trail)
            else:
                t.trail_extreme = min(t.trail_extreme, float(self.L[s, i]))
                o.stop = t.trail_extreme * (1.0 + o.trail)
        self.trailing = keep

    def _charge_borrow(self, i: int) -> None:
        for s, u in enumerate(self.units):
            if u >= 0.0:
                continue
            cost = -u * float(self.C[s, i]) * float(self.borrow_per_bar[i])
            self.cash -= cost
            for t in self.open_trades[s]:
                t.borrow_cost += cost * (t.size / u)

    def _check_maintenance(self, i: int) -> None:
        equity, gross = self.equity(), self.gross_exposure()
        if gross > 0.0 and equity < self.spec.margin_maintenance * gross:
            self.liquidate(i, "margin call: equity below maintenance margin")

    def liquidate(self, i: int, reason: str) -> None:
        """Close every position at this bar's close and cancel all pending orders."""
        for o in self.pending:
            if o.status == ok.PENDING:
                self._finish(o, ok.CANCELLED, reason)
        for s, u in enumerate(self.units):
            if u != 0.0:
                side = -1 if u > 0 else 1
                o = Order(
                    kind=ok.LIQUIDATION,
                    symbol=self.symbols[s],
                    sym_index=s,
                    side=side,
                    placed_bar=i,
                    eligible_bar=i,
                )
                self.submit(o)
                self._fill(o, -u, float(self.C[s, i]), i)
                o.reason = reason
        self._compact()
        if self.equity() <= 0.0:
            self.halted = True

    def finish_run(self) -> None:
        """Orders still pending when the data ends are cancelled so every order has a fate."""
        for o in self.pending:
            if o.status == ok.PENDING:
                self._finish(o, ok.CANCELLED, "end of data")
        self.pending.clear()


def units_history(events: list[tuple[int, float]], n_bars: int) -> np.ndarray:
    """Position after each bar from (bar, units-after-fill) events; the last event of a bar wins."""
    out = np.zeros(n_bars)
    if not events:
        return out
    bars = np.fromiter((b for b, _ in events), dtype=np.int64, count=len(events))
    vals = np.fromiter((v for _, v in events), dtype=np.float64, count=len(events))
    idx = np.searchsorted(bars, np.arange(n_bars), side="right") - 1
    out[idx >= 0] = vals[idx[idx >= 0]]
    return out


def _rows(prices: np.ndarray) -> list[memoryview]:
    """One memoryview per instrument's row of a (symbols, bars) float64 array."""
    return [memoryview(np.ascontiguousarray(row, dtype=np.float64)) for row in prices]  # type: ignore[arg-type]
