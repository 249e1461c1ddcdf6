"""What users subclass: ``Strategy`` with declared ``Param``s, plus view-aware crossovers."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from backtesting.engine import indicators
from backtesting.engine import orders as ok
from backtesting.engine.errors import StrategyError, shown
from backtesting.engine.orders import Order, OrderView, order_view
from backtesting.engine.plotted import IndicatorSource, indicator_label, source_symbol
from backtesting.engine.views import Clock, SeriesView, readonly
from strategies.paramspec import (
    ParameterDeclarationError,
    ParameterSpace,
    ParameterSpec,
    ParameterValueError,
)

if TYPE_CHECKING:
    from backtesting.engine.broker import Broker

_MISSING = object()
PHASE_SETUP, PHASE_INIT, PHASE_RUN = "setup", "init", "run"
TIFS = ("gtc", "day")
# The hooks a strategy overrides; every other name of Strategy belongs to the engine.
HOOKS = frozenset({"init", "next", "signals"})
# Attributes the engine sets on the instance in _bind (see there).
ENGINE_ATTRIBUTES = frozenset(
    {
        "_broker", "_clock", "_phase", "_datas", "_datas_view", "_symbols",
        "_indicator_arrays", "_indicator_sources", "_positions", "_sym_index", "_param_values",
    }
)  # fmt: skip
# Tags are stored with the trades (a 100-character text column): refuse what cannot be stored
# where the order is placed, so the user sees their own line, not a failed save later.
MAX_TAG_LENGTH = 100
# No price, size or cash value of a real order comes near this; beyond it float arithmetic
# on notionals and fees would overflow to inf.
MAX_ORDER_NUMBER = 1e15
_PYTHON_TYPES = {"bool": bool, "int": int, "float": float, "str": str}


class Param:
    """A tunable parameter declared as a class attribute; reads as its resolved value.

    The type is the type of ``default`` (int, float, bool or str). The rules live in the
    ``ParameterSpec`` it builds, the same the validator and the backtest API check with.
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
        try:
            self.spec = ParameterSpec.declare(
                "", default, min=min, max=max, step=step, choices=choices, description=description
            )
        except ParameterDeclarationError as exc:
            raise StrategyError(f"Param: {exc}") from None
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.spec = self.spec.named(name)

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return instance._param_values.get(self.name, self.spec.default)

    default = property(lambda self: self.spec.default)
    min = property(lambda self: self.spec.min)
    max = property(lambda self: self.spec.max)
    step = property(lambda self: self.spec.step)
    choices = property(lambda self: self.spec.choices)
    description = property(lambda self: self.spec.description)
    type = property(lambda self: _PYTHON_TYPES[self.spec.type])

    def resolve(self, value: Any = _MISSING) -> Any:
        """The checked, typed value for ``value`` (the default when missing)."""
        if value is _MISSING:
            return self.spec.default
        try:
            return self.spec.validate(value, integral_floats=True)
        except ParameterValueError as exc:
            raise StrategyError(str(exc)) from None


class Data:
    """One instrument's bars: full read-only arrays in ``init``, progressive views in ``next``."""

    __slots__ = ("_arrays", "_clock", "_live", "_symbol", "_views")

    def __init__(self, symbol: str, arrays: dict[str, np.ndarray], clock: Clock) -> None:
        self._symbol = symbol
        # Timestamps stay int64: as float64 nanoseconds they would lose precision.
        self._arrays = {
            k: readonly(v, np.int64 if k == "time" else np.float64) for k, v in arrays.items()
        }
        self._clock = clock
        self._views: dict[str, SeriesView] = {}  # made by _go_live: signals() never needs them
        self._live = False

    def _go_live(self) -> None:
        symbol, clock = self._symbol, self._clock
        self._views = {k: SeriesView(v, clock, f"{symbol}.{k}") for k, v in self._arrays.items()}
        self._live = True

    def _get(self, name: str) -> Any:
        return self._views[name] if self._live else self._arrays[name]

    open = property(lambda self: self._get("open"))
    high = property(lambda self: self._get("high"))
    low = property(lambda self: self._get("low"))
    close = property(lambda self: self._get("close"))
    volume = property(lambda self: self._get("volume"))
    time = property(lambda self: self._get("time"))
    symbol = property(lambda self: self._symbol)

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
        price = float(b.C[self._s, b.clock.i])
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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        check_strategy_class(cls)

    def init(self) -> None:
        """Compute indicators once over the whole series with ``self.I``."""

    def next(self) -> None:
        """Called once per bar after warm-up; place orders here."""

    # ------------------------------------------------------------------ engine wiring

    def _bind(self, broker: Broker, datas: dict[str, Data], clock: Clock, params: dict) -> None:
        self._broker, self._clock, self._phase = broker, clock, PHASE_SETUP
        self._datas, self._symbols = datas, tuple(datas)
        # The strategy reads instruments through a read-only mapping; the engine keeps the dict.
        self._datas_view = MappingProxyType(datas)
        self._indicator_arrays: list[np.ndarray] = []
        self._indicator_sources: list[IndicatorSource] = []
        self._positions = [Position(broker, s) for s in range(len(datas))]
        self._sym_index = {sym: s for s, sym in enumerate(datas)}
        self._param_values = resolve_params(type(self), params)

    def _go_live(self) -> None:
        self._phase = PHASE_RUN
        for d in self._datas.values():
            d._go_live()

    @classmethod
    def parameters(cls) -> dict[str, Param]:
        """Declared parameters by name, base classes first."""
        out: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            # Strategy and object declare none, and Strategy's ~60 attributes are most of the
            # scan a run pays for.
            if klass is not Strategy and klass is not object:
                out.update({k: v for k, v in vars(klass).items() if isinstance(v, Param)})
        return out

    # ------------------------------------------------------------------ data access

    @property
    def data(self) -> Data:
        return self._datas[self._symbols[0]]

    @property
    def datas(self) -> Mapping[str, Data]:
        return self._datas_view

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
    def orders(self) -> tuple[OrderView, ...]:
        """Orders still pending (including stop-loss / take-profit exits), read-only."""
        return tuple(order_view(o) for o in self._broker.pending if o.status == ok.PENDING)

    def position(self, symbol: str | None = None) -> Position:
        return self._positions[self._resolve(symbol)]

    def I(  # noqa: E743 - the public API name
        self, func: Callable[..., Any], *args: Any, name: str | None = None, **kwargs: Any
    ) -> Any:
        """Compute an indicator over the whole series; returns progressive view(s) of it.

        Registers the output for warm-up: ``next`` starts once every indicator has a value.
        ``name`` labels it on the price chart (else the attribute it is stored in).
        """
        if self._phase == PHASE_RUN:
            raise RuntimeError("self.I() can only be called in init() or signals()")
        if name is not None and not isinstance(name, str):
            raise ValueError(f"the indicator name must be text, got {shown(name)}")
        result = func(*args, **kwargs)
        arrays = _indicator_arrays(result, len(self.data._arrays["close"]))
        self._indicator_arrays.extend(arrays)
        self._indicator_sources.append(
            IndicatorSource(
                tuple(arrays), name, indicator_label(func, args, kwargs),
                source_symbol(self._datas, args, kwargs),
            )
        )  # fmt: skip
        single = not isinstance(result, tuple | list) and np.ndim(result) == 1
        if self._phase == PHASE_SETUP:  # signals(): plain arrays, no views
            return arrays[0] if single else tuple(arrays)
        views = tuple(SeriesView(a, self._clock, getattr(func, "__name__", "")) for a in arrays)
        return views[0] if single else views

    # ------------------------------------------------------------------ orders

    # buy() and sell() name their keywords rather than passing **kwargs on: a keyword dict
    # built and unpacked again cost as much as checking the order (they run per order placed).

    def buy(
        self,
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
    ) -> OrderView:
        """Place a buy order; see docs/strategy-guide.md for the arguments."""
        return self._place(+1, units, fraction, value, limit, stop, sl, tp, trail, tif, tag, symbol)

    def sell(
        self,
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
    ) -> OrderView:
        """Place a sell order (a short sale when flat and shorting is allowed)."""
        return self._place(-1, units, fraction, value, limit, stop, sl, tp, trail, tif, tag, symbol)

    def close(self, symbol: str | None = None, fraction: float = 1.0) -> OrderView:
        """Exit ``fraction`` of the position (FIFO over its trades) with a market order."""
        if not (isinstance(fraction, _REAL_TYPES) and 0.0 < fraction <= 1.0):
            raise ValueError(f"close fraction must be in (0, 1], got {shown(fraction)}")
        s = 0 if symbol is None else self._resolve(symbol)
        side = -1 if self._broker.units[s] > 0 else 1
        order = Order(ok.CLOSE, self._symbols[s], s, side)
        order.fraction = float(fraction)
        return self._submit(order, "gtc")

    def _place(
        self,
        side: int,
        units: Any,
        fraction: Any,
        value: Any,
        limit: Any,
        stop: Any,
        sl: Any,
        tp: Any,
        trail: Any,
        tif: Any,
        tag: Any,
        symbol: Any,
    ) -> OrderView:
        s = 0 if symbol is None else self._resolve(symbol)
        order = Order(
            ok.MARKET, self._symbols[s], s, side, None if tag is None else _check_tag(tag)
        )
        _set_size(order, units, fraction, value)
        if not (limit is None and stop is None and sl is None and tp is None and trail is None):
            _set_prices(order, limit, stop, sl, tp, trail)  # else a plain market order
        return self._submit(order, tif)

    def _submit(self, order: Order, tif: str) -> OrderView:
        if self._phase != PHASE_RUN:
            raise RuntimeError("orders can only be placed from next()")
        if tif not in TIFS:
            raise ValueError(f"tif must be one of {TIFS}, got {shown(tif)}")
        order.tif = tif
        i = self._clock.i
        order.placed_bar = i
        same_close = self._broker.spec.fill_mode != "next_open" and order.kind in (
            ok.MARKET,
            ok.CLOSE,
        )
        # An order decided on bar i's close can only trade at a later price (look-ahead guard);
        # the labelled same_close mode is the one explicit exception for market orders.
        order.eligible_bar = i if same_close else i + 1
        return order_view(self._broker.submit(order))

    def _resolve(self, symbol: str | None) -> int:
        if symbol is None:
            return 0
        try:
            return self._sym_index[symbol]
        except (KeyError, TypeError):
            known = shown(list(self._symbols))
            raise ValueError(f"unknown symbol {shown(symbol)}; known: {known}") from None


def resolve_params(cls: type, given: dict[str, Any]) -> dict[str, Any]:
    """Checked values for every declared parameter; unknown names are the user's error."""
    declared = cls.parameters() if hasattr(cls, "parameters") else {}
    # A Param's spec already carries its attribute name (__set_name__) unless the same Param
    # object is bound to two names.
    space = ParameterSpace(
        tuple(p.spec if p.spec.name == name else p.spec.named(name) for name, p in declared.items())
    )
    # The engine's callers compute values (a sweep, a script): 4.0 stands for an int's 4.
    resolution = space.resolve(given, integral_floats=True)
    if resolution.unknown:
        unknown = sorted(str(name) for name in resolution.unknown)
        raise StrategyError(f"unknown parameters: {', '.join(unknown)}")
    for error in resolution.errors.values():
        raise StrategyError(str(error))
    return resolution.values


def check_strategy_class(cls: type) -> None:
    """Refuse a strategy class whose own names collide with the engine's (StrategyError).

    A class attribute called ``cash`` or ``parameters`` would silently replace what the engine
    reads or calls, and the run would fail far from the user's line, as if it were our bug.
    """
    for klass in cls.__mro__:
        if klass is Strategy or klass is object:
            break
        for name, value in vars(klass).items():
            if name.startswith("__") and name.endswith("__"):
                continue
            if name in RESERVED:
                raise StrategyError(
                    f"the strategy defines {name!r}, a name reserved by the engine "
                    f"({_role(name)}); rename it"
                )
            if name in HOOKS and not callable(value):
                raise StrategyError(f"the strategy's {name!r} must be a method, not a value")


def check_instance_names(strategy: Strategy, during: str) -> None:
    """Refuse engine methods the strategy replaced on ``self`` during ``init``/``signals``.

    Properties cannot be set at all (no setter); a method can be shadowed by an instance
    attribute, so each is looked up and compared with what the class provides. Deliberately
    not ``vars(strategy)``: that would materialize the instance dict, and every ``self.x`` in
    ``next()`` would be slower for the rest of the run.
    """
    cls = type(strategy)
    for name in SHADOWABLE:
        found = getattr(strategy, name, None)
        expected = getattr(cls, name, None)
        if found is expected or (
            getattr(found, "__func__", None) is getattr(expected, "__func__", expected)
        ):
            continue
        raise StrategyError(
            f"{during} set self.{name}, a name reserved by the engine ({_role(name)}); "
            "use another attribute name"
        )


def _role(name: str) -> str:
    member = inspect.getattr_static(Strategy, name, None)
    if isinstance(member, property):
        return f"the property self.{name}"
    if callable(member) or isinstance(member, classmethod | staticmethod):
        return f"the method self.{name}()"
    return "used by the engine internally"


def _indicator_arrays(result: Any, n: int) -> list[np.ndarray]:
    parts = list(result) if isinstance(result, tuple | list) else [result]
    if len(parts) == 1 and np.ndim(parts[0]) == 2:
        parts = list(np.asarray(parts[0]))
    out = []
    for part in parts:
        arr = np.asarray(part)
        if arr.dtype.kind not in "biuf":
            raise ValueError(
                f"an indicator returned {dtype_words(arr.dtype)}; expected numbers or booleans"
            )
        if arr.shape != (n,):
            raise ValueError(f"indicator output has shape {arr.shape}, expected ({n},)")
        # One copy, always: the engine's array must not change if the user's does later.
        out.append(readonly(arr.astype(np.float64, copy=True)))
    return out


def dtype_words(dtype: np.dtype) -> str:
    """How a column of this dtype is named in a message to the user."""
    return {
        "U": "a column of strings",
        "S": "a column of strings",
        "O": "a column of Python objects",
        "c": "a column of complex numbers",
        "M": "a column of dates",
        "m": "a column of time spans",
    }.get(dtype.kind, f"a column of {dtype.name}")


_NUMBER_TYPES = (int, float, np.integer, np.floating)
_REAL_TYPES = (int, float)


def _finite_positive(name: str, value: Any) -> float:
    if type(value) is float and 0.0 < value <= MAX_ORDER_NUMBER:
        return value  # the usual case, which every check below would pass unchanged
    if isinstance(value, bool) or not isinstance(value, _NUMBER_TYPES):
        raise ValueError(f"{name} must be a number, got {shown(value)}")
    try:
        value = float(value)
    except OverflowError:
        value = math.inf
    if not (math.isfinite(value) and 0 < value <= MAX_ORDER_NUMBER):
        raise ValueError(
            f"{name} must be a finite number > 0 and <= {MAX_ORDER_NUMBER:g}, got {shown(value)}"
        )
    return value


def _set_size(order: Order, units: Any, fraction: Any, value: Any) -> None:
    if units is None and value is None:
        if fraction is not None:
            amount = _finite_positive("fraction", fraction)
            if amount > 10:
                raise ValueError(f"fraction must be in (0, 10], got {amount}")
            order.fraction = amount
        return  # else the default "all available" (every size field stays NaN)
    if fraction is not None or (units is not None and value is not None):
        raise ValueError("give at most one of units=, fraction=, value=")
    if units is not None:
        order.units = _finite_positive("units", units)
    else:
        order.value = _finite_positive("value", value)


def _set_prices(order: Order, limit: Any, stop: Any, sl: Any, tp: Any, trail: Any) -> None:
    """Prices of an order given at least one of them (the caller skips a plain market order)."""
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
    if tag is None:
        return None
    if not isinstance(tag, str):
        raise ValueError(f"tag must be a string, got {shown(tag)}")
    if len(tag) > MAX_TAG_LENGTH:
        raise ValueError(f"tag must be at most {MAX_TAG_LENGTH} characters, got {len(tag)}")
    if "\x00" in tag or not _encodable(tag):
        raise ValueError("tag must be text without NUL characters or lone surrogates")
    return tag


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# One implementation (the view-aware fast path lives in indicators, which the sandbox's
# ``indicators`` facade exposes); the strategy module re-exports it.
crossover = indicators.crossover
crossunder = indicators.crossunder


# Every name Strategy defines (methods, properties, class attributes) plus what _bind sets,
# except the hooks a strategy is meant to override.
RESERVED = (
    frozenset(n for n in vars(Strategy) if not (n.startswith("__") and n.endswith("__")))
    | ENGINE_ATTRIBUTES
) - HOOKS
PUBLIC_RESERVED = frozenset(n for n in RESERVED if not n.startswith("_"))
# What an instance attribute can shadow: methods and the hooks (properties have no setter).
SHADOWABLE = tuple(
    sorted(
        n
        for n in PUBLIC_RESERVED | HOOKS
        if not isinstance(inspect.getattr_static(Strategy, n, None), property)
    )
)
