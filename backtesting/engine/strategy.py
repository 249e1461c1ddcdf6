"""What users subclass: ``Strategy`` with declared ``Param``s, plus view-aware crossovers."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from backtesting.engine import indicators
from backtesting.engine import orders as ok
from backtesting.engine.errors import StrategyError
from backtesting.engine.orders import Order
from backtesting.engine.views import Clock, SeriesView, readonly

if TYPE_CHECKING:
    from backtesting.engine.broker import Broker

_MISSING = object()
PHASE_SETUP, PHASE_INIT, PHASE_RUN = "setup", "init", "run"
TIFS = ("gtc", "day")


class Param:
    """A tunable parameter declared as a class attribute; reads as its resolved value.

    The type is the type of ``default`` (int, float, bool or str).
    """

    def __init__(
        self,
        default: Any,
        *,
        min: float | None = None,
        max: float | None = None,
        step: float | None = None,
        choices: list[Any] | tuple[Any, ...] | None = None,
        description: str = "",
    ) -> None:
        if not isinstance(default, bool | int | float | str):
            raise StrategyError(f"Param default must be int, float, bool or str, got {default!r}")
        self.default, self.min, self.max, self.step = default, min, max, step
        self.choices = tuple(choices) if choices is not None else None
        self.description = description
        self.type: type = type(default)
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return instance._param_values.get(self.name, self.default)

    def resolve(self, value: Any = _MISSING) -> Any:
        """The checked, typed value for ``value`` (the default when missing)."""
        if value is _MISSING:
            return self.default
        value = self._coerce(value)
        if self.choices is not None and value not in self.choices:
            raise StrategyError(f"parameter {self.name}={value!r} is not one of {self.choices}")
        if self.min is not None and value < self.min:
            raise StrategyError(f"parameter {self.name}={value!r} is below its minimum {self.min}")
        if self.max is not None and value > self.max:
            raise StrategyError(f"parameter {self.name}={value!r} is above its maximum {self.max}")
        return value

    def _coerce(self, value: Any) -> Any:
        bad = StrategyError(f"parameter {self.name}={value!r} is not a {self.type.__name__}")
        if self.type is bool:
            if not isinstance(value, bool):
                raise bad
            return value
        if self.type is int:
            if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
                raise bad
            return int(value)
        if self.type is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise bad
            return float(value)
        if not isinstance(value, str):
            raise bad
        return value


class Data:
    """One instrument's bars: full read-only arrays in ``init``, progressive views in ``next``."""

    __slots__ = ("_arrays", "_live", "_views", "symbol")

    def __init__(self, symbol: str, arrays: dict[str, np.ndarray], clock: Clock) -> None:
        self.symbol = symbol
        # Timestamps stay int64: as float64 nanoseconds they would lose precision.
        self._arrays = {k: v if k == "time" else readonly(v) for k, v in arrays.items()}
        self._views = {k: SeriesView(v, clock, f"{symbol}.{k}") for k, v in self._arrays.items()}
        self._live = False

    def _get(self, name: str) -> Any:
        return self._views[name] if self._live else self._arrays[name]

    open = property(lambda self: self._get("open"))
    high = property(lambda self: self._get("high"))
    low = property(lambda self: self._get("low"))
    close = property(lambda self: self._get("close"))
    volume = property(lambda self: self._get("volume"))
    time = property(lambda self: self._get("time"))

    def __len__(self) -> int:
        return len(self._views["close"]) if self._live else len(self._arrays["close"])


class Position:
    """Live read-only view of one instrument's net position (one object per symbol, reused)."""

    __slots__ = ("_broker", "_s")

    def __init__(self, broker: Broker, s: int) -> None:
        self._broker, self._s = broker, s

    @property
    def size(self) -> float:
        return self._broker.units[self._s]

    @property
    def is_long(self) -> bool:
        return self.size > 0

    @property
    def is_short(self) -> bool:
        return self.size < 0

    @property
    def entry_price(self) -> float:
        """Size-weighted effective entry price of the open lots (NaN when flat)."""
        lots = self._broker.open_trades[self._s]
        total = math.fsum(t.size for t in lots)
        return math.fsum(t.size * t.entry_price for t in lots) / total if total else math.nan

    @property
    def pl(self) -> float:
        """Unrealized P&L at the current close, net of the entry costs paid so far."""
        b = self._broker
        price = float(b.C[self._s, b.i])
        return math.fsum(
            t.size * (price - t.entry_price) - t.commission - t.borrow_cost
            for t in b.open_trades[self._s]
        )

    def __bool__(self) -> bool:
        return self.size != 0.0

    def __repr__(self) -> str:
        return f"<Position size={self.size}>"


class Strategy:
    """Base class of user strategies: override ``init`` + ``next``, or ``signals``."""

    _param_values: dict[str, Any] = {}

    def init(self) -> None:
        """Compute indicators once over the whole series with ``self.I``."""

    def next(self) -> None:
        """Called once per bar after warm-up; place orders here."""

    # ------------------------------------------------------------------ engine wiring

    def _bind(self, broker: Broker, datas: dict[str, Data], clock: Clock, params: dict) -> None:
        self._broker, self._clock, self._phase = broker, clock, PHASE_SETUP
        self._datas, self._symbols = datas, tuple(datas)
        self._indicator_arrays: list[np.ndarray] = []
        self._positions = [Position(broker, s) for s in range(len(datas))]
        self._sym_index = {sym: s for s, sym in enumerate(datas)}
        self._param_values = resolve_params(type(self), params)

    def _go_live(self) -> None:
        self._phase = PHASE_RUN
        for d in self._datas.values():
            d._live = True

    @classmethod
    def parameters(cls) -> dict[str, Param]:
        """Declared parameters by name, base classes first."""
        out: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            out.update({k: v for k, v in vars(klass).items() if isinstance(v, Param)})
        return out

    # ------------------------------------------------------------------ data access

    @property
    def data(self) -> Data:
        return self._datas[self._symbols[0]]

    @property
    def datas(self) -> dict[str, Data]:
        return self._datas

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    @property
    def equity(self) -> float:
        return self._broker.equity()

    @property
    def cash(self) -> float:
        return self._broker.cash

    @property
    def bar_index(self) -> int:
        return self._clock.i

    @property
    def time(self) -> int:
        """Timestamp of the current bar (int ns since the epoch, UTC)."""
        return int(self.data._arrays["time"][self._clock.i])

    @property
    def orders(self) -> tuple[Order, ...]:
        """Orders still pending (including stop-loss / take-profit exits)."""
        return tuple(o for o in self._broker.pending if o.status == ok.PENDING)

    def position(self, symbol: str | None = None) -> Position:
        return self._positions[self._resolve(symbol)]

    def I(  # noqa: E743 - the public API name
        self, func: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        """Compute an indicator over the whole series; returns progressive view(s) of it.

        Registers the output for warm-up: ``next`` starts once every indicator has a value.
        """
        if self._phase == PHASE_RUN:
            raise RuntimeError("self.I() can only be called in init() or signals()")
        result = func(*args, **kwargs)
        arrays = _indicator_arrays(result, len(self.data._arrays["close"]))
        self._indicator_arrays.extend(arrays)
        single = not isinstance(result, tuple | list) and np.ndim(result) == 1
        if self._phase == PHASE_SETUP:  # signals(): plain arrays, no views
            return arrays[0] if single else tuple(arrays)
        views = tuple(SeriesView(a, self._clock, getattr(func, "__name__", "")) for a in arrays)
        return views[0] if single else views

    # ------------------------------------------------------------------ orders

    def buy(self, **kwargs: Any) -> Order:
        """Place a buy order; see docs/strategy-guide.md for the arguments."""
        return self._place(+1, **kwargs)

    def sell(self, **kwargs: Any) -> Order:
        """Place a sell order (a short sale when flat and shorting is allowed)."""
        return self._place(-1, **kwargs)

    def close(self, symbol: str | None = None, fraction: float = 1.0) -> Order:
        """Exit ``fraction`` of the position (FIFO over its trades) with a market order."""
        if not (isinstance(fraction, int | float) and 0.0 < fraction <= 1.0):
            raise ValueError(f"close fraction must be in (0, 1], got {fraction!r}")
        s = self._resolve(symbol)
        side = -1 if self._broker.units[s] > 0 else 1
        order = Order(kind=ok.CLOSE, symbol=self._symbols[s], sym_index=s, side=side)
        order.fraction = float(fraction)
        return self._submit(order, "gtc")

    def _place(
        self,
        side: int,
        *,
        units: float | None = None,
        fraction: float | None = None,
        value: float | None = None,
        limit: float | None = None,
        stop: float | None = None,
        sl: float | None = None,
        tp: float | None = None,
        trail: float | None = None,
        tif: str = "gtc",
        tag: str | None = None,
        symbol: str | None = None,
    ) -> Order:
        s = self._resolve(symbol)
        order = Order(
            kind=ok.MARKET, symbol=self._symbols[s], sym_index=s, side=side, tag=_check_tag(tag)
        )
        _set_size(order, units, fraction, value)
        _set_prices(order, limit, stop, sl, tp, trail)
        return self._submit(order, tif)

    def _submit(self, order: Order, tif: str) -> Order:
        if self._phase != PHASE_RUN:
            raise RuntimeError("orders can only be placed from next()")
        if tif not in TIFS:
            raise ValueError(f"tif must be one of {TIFS}, got {tif!r}")
        order.tif = tif
        i = self._clock.i
        order.placed_bar = i
        same_close = (
            order.kind in (ok.MARKET, ok.CLOSE) and self._broker.spec.fill_mode != "next_open"
        )
        # An order decided on bar i's close can only trade at a later price (look-ahead guard);
        # the labelled same_close mode is the one explicit exception for market orders.
        order.eligible_bar = i if same_close else i + 1
        return self._broker.submit(order)

    def _resolve(self, symbol: str | None) -> int:
        if symbol is None:
            return 0
        try:
            return self._sym_index[symbol]
        except (KeyError, TypeError):
            raise ValueError(f"unknown symbol {symbol!r}; known: {list(self._symbols)}") from None


def resolve_params(cls: type, given: dict[str, Any]) -> dict[str, Any]:
    """Checked values for every declared parameter; unknown names are the user's error."""
    declared = cls.parameters() if hasattr(cls, "parameters") else {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise StrategyError(f"unknown parameters: {', '.join(unknown)}")
    return {name: p.resolve(given.get(name, _MISSING)) for name, p in declared.items()}


def _indicator_arrays(result: Any, n: int) -> list[np.ndarray]:
    parts = list(result) if isinstance(result, tuple | list) else [result]
    if len(parts) == 1 and np.ndim(parts[0]) == 2:
        parts = list(np.asarray(parts[0]))
    out = []
    for part in parts:
        arr = np.asarray(part, dtype=np.float64)
        if arr.shape != (n,):
            raise ValueError(f"indicator output has shape {arr.shape}, expected ({n},)")
        out.append(readonly(arr.copy()))
    return out


def _finite_positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


def _set_size(order: Order, units: Any, fraction: Any, value: Any) -> None:
    if units is None and fraction is None and value is None:
        return  # the default "all available" (every size field stays NaN)
    given = [
        (k, v)
        for k, v in (("units", units), ("fraction", fraction), ("value", value))
        if v is not None
    ]
    if len(given) > 1:
        raise ValueError("give at most one of units=, fraction=, value=")
    for name, raw in given:
        amount = _finite_positive(name, raw)
        if name == "fraction" and amount > 10:
            raise ValueError(f"fraction must be in (0, 10], got {amount}")
        setattr(order, name, amount)


def _set_prices(order: Order, limit: Any, stop: Any, sl: Any, tp: Any, trail: Any) -> None:
    if limit is None and stop is None and sl is None and tp is None and trail is None:
        return  # a plain market order, as the caller created it
    for name, raw in (("limit", limit), ("stop", stop), ("sl", sl), ("tp", tp)):
        if raw is not None:
            setattr(order, name, _finite_positive(name, raw))
    if trail is not None:
        order.trail = _finite_positive("trail", trail)
        if order.trail >= 1:
            raise ValueError("trail is a fraction of the price and must be < 1")
    has_limit, has_stop = limit is not None, stop is not None
    order.kind = _ENTRY_KIND[(has_limit, has_stop)]
    if sl is not None and tp is not None and (order.sl - order.tp) * order.side >= 0:
        raise ValueError("stop-loss must be on the losing side of take-profit (sl < tp for a buy)")


_ENTRY_KIND = {
    (False, False): ok.MARKET,
    (True, False): ok.LIMIT,
    (False, True): ok.STOP,
    (True, True): ok.STOP_LIMIT,
}


def _check_tag(tag: Any) -> str | None:
    if tag is not None and not isinstance(tag, str):
        raise ValueError("tag must be a string")
    return tag


# One implementation (the view-aware fast path lives in indicators, which the sandbox's
# ``indicators`` facade exposes); the strategy module re-exports it.
crossover = indicators.crossover
crossunder = indicators.crossunder
