"""Orders and the pure price rules that decide whether and where a bar fills them."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backtesting.engine.broker import Broker
    from backtesting.engine.trades import Trade

PENDING, FILLED, CANCELLED, REJECTED, EXPIRED = (
    "pending",
    "filled",
    "cancelled",
    "rejected",
    "expired",
)
MARKET, LIMIT, STOP, STOP_LIMIT = "market", "limit", "stop", "stop_limit"
STOP_LOSS, TAKE_PROFIT, TRAILING_STOP = "stop_loss", "take_profit", "trailing_stop"
# close(): exit a position; target: vectorized rebalance; liquidation: the broker's margin call.
CLOSE, TARGET, LIQUIDATION = "close", "target", "liquidation"
NaN = math.nan


class Order:
    """One order; the object returned to the strategy is this one (``order.cancel()``).

    ``side`` is +1 (buy) or -1 (sell). Exactly one of units / fraction / value sizes it; all
    NaN means "all available". Contingent orders (stop loss, take profit, trailing stop, close)
    carry ``trade`` — the open trade they exit.
    """

    __slots__ = (
        "_engine",
        "commission",
        "eligible_bar",
        "fill_bar",
        "fill_price",
        "filled_units",
        "fraction",
        "id",
        "kind",
        "limit",
        "market_price",
        "parent_id",
        "placed_bar",
        "reason",
        "side",
        "sl",
        "status",
        "stop",
        "sym_index",
        "symbol",
        "tag",
        "tif",
        "tp",
        "trade",
        "trail",
        "triggered",
        "units",
        "value",
    )

    def __init__(
        self,
        kind: str,
        symbol: str,
        sym_index: int,
        side: int,
        tag: str | None = None,
        *,
        placed_bar: int = -1,
        eligible_bar: int = -1,
        parent_id: int | None = None,
        trade: Trade | None = None,
        limit: float = NaN,
        stop: float = NaN,
        trail: float = NaN,
    ) -> None:
        # One statement per field: created for every order placed, and tuple assignments
        # would build and unpack a tuple each time.
        self.id = 0
        self.kind = kind
        self.symbol = symbol
        self.sym_index = sym_index
        self.side = side
        self.tag = tag
        self.placed_bar = placed_bar
        self.eligible_bar = eligible_bar
        self.parent_id = parent_id
        self.trade = trade
        self.limit = limit
        self.stop = stop
        self.trail = trail
        self.sl = self.tp = self.units = self.fraction = self.value = NaN
        self.tif = "gtc"
        self.status = PENDING
        self.reason = ""
        self.fill_bar = -1
        self.fill_price = self.market_price = NaN
        self.filled_units = self.commission = 0.0
        self.triggered = False
        self._engine: Broker | None = None

    @property
    def is_buy(self) -> bool:
        return self.side > 0

    @property
    def is_pending(self) -> bool:
        return self.status == PENDING

    def cancel(self) -> None:
        """Cancel the order if it is still pending (no effect otherwise)."""
        if self.status == PENDING and self._engine is not None:
            self._engine.cancel_order(self, "cancelled by strategy")

    def __repr__(self) -> str:
        return f"<Order {self.id} {self.kind} {'buy' if self.side > 0 else 'sell'} {self.status}>"


# What a strategy may read of its orders; the rest (the trade, the broker) is engine wiring.
PUBLIC_FIELDS = frozenset(
    {
        "id", "kind", "symbol", "side", "tag", "placed_bar", "parent_id", "limit", "stop",
        "trail", "sl", "tp", "units", "fraction", "value", "tif", "status", "reason",
        "fill_bar", "fill_price", "filled_units", "market_price", "commission",
        "is_buy", "is_pending",
    }
)  # fmt: skip


class OrderView:
    """The order as the strategy holds it: every public field readable, none writable.

    The broker books fills through the Order itself; a strategy that could set ``status`` or
    ``sym_index`` would corrupt the run, so it gets this view. Views are made on demand and
    not kept by the engine (a kept view would be one more long-lived object per order for the
    garbage collector to walk); two views of one order compare equal.
    """

    __slots__ = ("_order",)

    def __init__(self, order: Order) -> None:
        object.__setattr__(self, "_order", order)

    def __getattr__(self, name: str) -> Any:
        if name in PUBLIC_FIELDS:
            return getattr(self._order, name)
        raise AttributeError(f"orders have no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"orders are read-only (cannot set {name!r}); cancel and re-place")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"orders are read-only (cannot delete {name!r})")

    def cancel(self) -> None:
        """Cancel the order if it is still pending (no effect otherwise)."""
        self._order.cancel()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OrderView) and other._order is self._order

    def __hash__(self) -> int:
        return id(self._order)

    def __repr__(self) -> str:
        return repr(self._order)


_new_view = object.__new__
_set_view_order = OrderView._order.__set__  # type: ignore[attr-defined]


def order_view(order: Order) -> OrderView:
    """The strategy's read-only view of ``order`` (made per order placed: skips __init__)."""
    view: OrderView = _new_view(OrderView)
    _set_view_order(view, order)
    return view


def trigger_price(side: int, kind_stop: float, o: float, h: float, low: float) -> float:
    """Price at which a stop of level ``kind_stop`` triggers on this bar, NaN if it does not.

    A gap through the stop fills at the open (worse than the stop), never at the stop level.
    """
    if side > 0:
        if o >= kind_stop:
            return o
        return kind_stop if h >= kind_stop else NaN
    if o <= kind_stop:
        return o
    return kind_stop if low <= kind_stop else NaN


def limit_price(side: int, limit: float, o: float, h: float, low: float) -> float:
    """Price at which a limit order fills on this bar, NaN if it does not (a gap fills at open)."""
    if side > 0:
        if o <= limit:
            return o
        return limit if low <= limit else NaN
    if o >= limit:
        return o
    return limit if h >= limit else NaN
