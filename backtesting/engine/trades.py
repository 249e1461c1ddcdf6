"""Trades: one per opening fill, closed first-in first-out, split on partial closes."""

from __future__ import annotations

import math

from backtesting.engine.orders import Order


class Trade:
    """A position lot. ``size`` is signed units; prices are effective (after spread/slippage).

    ``entry_market`` / ``exit_market`` are the raw bar prices so gross P&L excludes every cost.
    ``commission`` and ``borrow_cost`` hold the costs attributed to this lot so far.
    """

    __slots__ = (
        "ambiguous",
        "borrow_cost",
        "commission",
        "entry_bar",
        "entry_market",
        "entry_price",
        "exit_bar",
        "exit_market",
        "exit_price",
        "exit_reason",
        "id",
        "is_open",
        "size",
        "sl_order",
        "sym_index",
        "symbol",
        "tag",
        "tp_order",
        "trail_extreme",
        "trail_order",
    )

    def __init__(
        self,
        trade_id: int,
        symbol: str,
        sym_index: int,
        size: float,
        bar: int,
        price: float,
        market: float,
        commission: float,
        tag: str | None,
    ) -> None:
        # One statement per field: a tuple assignment would build and unpack a tuple per trade.
        self.id = trade_id
        self.symbol = symbol
        self.sym_index = sym_index
        self.size = size
        self.entry_bar = bar
        self.entry_price = price
        self.entry_market = market
        self.exit_bar = -1
        self.exit_price = self.exit_market = math.nan
        self.commission = commission
        self.borrow_cost = 0.0
        self.tag = tag
        self.ambiguous = False
        self.is_open = True
        self.exit_reason = ""
        self.sl_order: Order | None = None
        self.tp_order: Order | None = None
        self.trail_order: Order | None = None
        self.trail_extreme = market

    def contingent_orders(self) -> list[Order]:
        return [o for o in (self.sl_order, self.tp_order, self.trail_order) if o is not None]

    def split(self, units: float, new_id: int) -> Trade:
        """Detach ``units`` (same sign, smaller magnitude) as a new lot with pro-rata costs."""
        share = units / self.size
        part = Trade(
            new_id,
            self.symbol,
            self.sym_index,
            units,
            self.entry_bar,
            self.entry_price,
            self.entry_market,
            self.commission * share,
            self.tag,
        )
        part.borrow_cost = self.borrow_cost * share
        part.ambiguous = self.ambiguous
        self.commission -= part.commission
        self.borrow_cost -= part.borrow_cost
        self.size -= units
        return part
