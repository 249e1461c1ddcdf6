"""The frozen result of a run and its JSON-safe, deterministic dict form."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from backtesting.engine import kernel, metrics
from backtesting.engine.bars import AlignedBars
from backtesting.engine.broker import Broker
from backtesting.engine.orders import Order
from backtesting.engine.plotted import PlottedIndicators
from backtesting.engine.spec import BacktestSpec
from backtesting.engine.trades import Trade
from backtesting.engine.version import ENGINE_VERSION

CURVE_FIELDS = ("equity", "cash", "exposure", "drawdown")


class Records(Sequence[dict[str, Any]]):
    """An immutable sequence of record dicts, built on first access.

    A run with tens of thousands of trades should not pay for dicts nobody reads; the values
    are fixed when the run ends, so building them later gives the same records.
    """

    __slots__ = ("_build", "_items")

    def __init__(self, build: Callable[[], list[dict[str, Any]]]) -> None:
        self._build: Callable[[], list[dict[str, Any]]] | None = build
        self._items: tuple[dict[str, Any], ...] | None = None

    def _all(self) -> tuple[dict[str, Any], ...]:
        if self._items is None:
            assert self._build is not None
            self._items = tuple(self._build())
            self._build = None
        return self._items

    def __getitem__(self, key: Any) -> Any:
        return self._all()[key]

    def __len__(self) -> int:
        return len(self._all())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """Everything a run produced. Arrays are read-only; ``to_dict`` is the stored form.

    ``timestamps`` and the curve arrays cover the evaluation window (after warm-up) only.
    ``trades`` / ``orders`` are tuples of plain dicts in a fixed key order.
    ``indicators`` are the strategy's ``self.I`` outputs for the price chart, over every bar
    (warm-up included); they are not part of ``to_dict`` (the sandbox sends them as arrays).
    """

    engine_version: str
    mode: str
    symbols: tuple[str, ...]
    spec: BacktestSpec
    start_bar: int
    eval_start_bar: int
    timestamps: np.ndarray
    equity: np.ndarray
    cash: np.ndarray
    exposure: np.ndarray
    drawdown: np.ndarray
    trades: Sequence[dict[str, Any]]
    orders: Sequence[dict[str, Any]]
    statistics: dict[str, Any]
    indicators: PlottedIndicators | None = None

    @property
    def rejected_orders(self) -> tuple[dict[str, Any], ...]:
        return tuple(o for o in self.orders if o["status"] == "rejected")

    @property
    def final_equity(self) -> float:
        return float(self.equity[-1])

    def to_dict(self, *, curve: bool = True, orders: bool = True) -> dict[str, Any]:
        """JSON-safe (NaN/inf -> None, times as ISO-8601 UTC) with a fixed key order.

        curve=False leaves the equity curve out (the sandbox sends its arrays themselves);
        orders=False gives an empty "orders" list (a backtest stores trades, not orders).
        """
        out: dict[str, Any] = {
            "engine_version": self.engine_version,
            "mode": self.mode,
            "symbols": list(self.symbols),
            "spec": self.spec.to_dict(),
            "start_bar": self.start_bar,
            "eval_start_bar": self.eval_start_bar,
        }
        if curve:
            out["equity_curve"] = {
                "timestamps": iso_times(self.timestamps),
                **{name: json_floats(getattr(self, name)) for name in CURVE_FIELDS},
            }
        return {
            **out,
            **_clean_records(trades=self.trades, orders=self.orders if orders else ()),
            "statistics": {k: _clean_value(v) for k, v in self.statistics.items()},
        }


def iso_times(ns: np.ndarray) -> list[str]:
    return [s + "Z" for s in np.datetime_as_string(ns.astype("datetime64[ns]"), unit="s").tolist()]


def json_floats(values: np.ndarray) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in np.asarray(values, dtype=np.float64).tolist()]


def _clean_value(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_value(v) for v in value]
    return value


def _clean_records(**lists: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each list's records cleaned, every `*_time` integer (ns) as ISO text.

    The times of all the records are formatted in one iso_times call: one NumPy call per
    value cost about 2 ms of a 2,520-bar run's 3 ms to_dict (150 trades and orders).
    """
    stamps = [
        value
        for records in lists.values()
        for record in records
        for key, value in record.items()
        if key.endswith("_time") and isinstance(value, int)
    ]
    iso = dict(zip(stamps, iso_times(np.array(stamps, dtype=np.int64)), strict=True))
    return {
        name: [_clean_record(record, iso) for record in records] for name, records in lists.items()
    }


def _clean_record(record: dict[str, Any], iso: dict[int, str]) -> dict[str, Any]:
    out = {}
    for key, value in record.items():
        if key.endswith("_time") and isinstance(value, int):
            out[key] = iso[value]
        else:
            out[key] = _clean_value(value)
    return out


# ---------------------------------------------------------------------------- building


@dataclass(frozen=True)
class Curve:
    equity: np.ndarray
    cash: np.ndarray
    exposure: np.ndarray


@dataclass(frozen=True, eq=False)
class Ledger:
    """What a run leaves behind, as arrays: the input of the curve, statistics and records.

    ``cash_*`` / ``pos_*`` are (bar, value-after) step events (the last event of a bar wins).
    ``trade_*`` columns cover every trade in report order (closed ones in closing order, then
    open ones marked at the last close); ``trades`` / ``orders`` build the objects on demand.
    ``curve`` is the account curve from ``curve_cash`` initial cash when the run computed it
    already (the kernel's signal core does, in the same pass); build_curve returns it.
    """

    cash_bars: np.ndarray
    cash_values: np.ndarray
    pos_bars: list[np.ndarray]
    pos_values: list[np.ndarray]
    trade_size: np.ndarray
    trade_entry_price: np.ndarray
    trade_exit_price: np.ndarray
    trade_commission: np.ndarray
    trade_borrow: np.ndarray
    trade_entry_bar: np.ndarray
    trade_exit_bar: np.ndarray
    trade_open: np.ndarray
    trades: Callable[[], list[Trade]]
    orders: Callable[[], list[Order]]
    curve: Curve | None = None
    curve_cash: float = math.nan


def ledger_from_broker(broker: Broker, bars: AlignedBars) -> Ledger:
    trades = mark_open_trades(broker, bars)
    orders = list(broker.orders)

    def column(attr: str, dtype: type = np.float64) -> np.ndarray:
        return np.array([getattr(t, attr) for t in trades], dtype=dtype)

    cash_bars, cash_values = event_arrays(broker.cash_events)
    pos = [event_arrays(ev) for ev in broker.pos_events]
    return Ledger(
        cash_bars,
        cash_values,
        [p[0] for p in pos],
        [p[1] for p in pos],
        trade_size=column("size"),
        trade_entry_price=column("entry_price"),
        trade_exit_price=column("exit_price"),
        trade_commission=column("commission"),
        trade_borrow=column("borrow_cost"),
        trade_entry_bar=column("entry_bar", np.int64),
        trade_exit_bar=column("exit_bar", np.int64),
        trade_open=column("is_open", np.bool_),
        trades=lambda: trades,
        orders=lambda: orders,
    )


def event_arrays(events: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    bars = np.fromiter((b for b, _ in events), dtype=np.int64, count=len(events))
    vals = np.fromiter((v for _, v in events), dtype=np.float64, count=len(events))
    return bars, vals


def build_curve(ledger: Ledger, bars: AlignedBars, initial_cash: float) -> Curve:
    """Per-bar account values, rebuilt from the step events every run mode records.

    Every mode goes through this one function, which is what makes their curves bit-identical
    whenever their events are. The compiled kernel (kernel.c, tp_build_curve) computes it in
    one pass when loaded; ``build_curve_reference`` is the NumPy it reproduces bit for bit.
    """
    if ledger.curve is not None and ledger.curve_cash == initial_cash:
        return ledger.curve
    compiled = kernel.KERNEL
    if compiled is None:
        return build_curve_reference(ledger, bars, initial_cash)
    counts = [len(at) for at in ledger.pos_bars]
    pos_start = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=pos_start[1:])
    complete = bars.has_bar.all(axis=1)
    equity, cash, exposure = compiled.build_curve(
        np.ascontiguousarray(ledger.cash_bars, dtype=np.int64),
        np.ascontiguousarray(ledger.cash_values, dtype=np.float64),
        float(initial_cash),
        pos_start,
        _joined(ledger.pos_bars, np.int64),
        _joined(ledger.pos_values, np.float64),
        np.ascontiguousarray(bars.close, dtype=np.float64),
        np.ascontiguousarray(complete, dtype=np.uint8),
    )
    return Curve(equity, cash, exposure)


def _joined(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    if len(parts) == 1:
        return np.ascontiguousarray(parts[0], dtype=dtype)
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)


def build_curve_reference(ledger: Ledger, bars: AlignedBars, initial_cash: float) -> Curve:
    """build_curve in NumPy: the specification of the kernel's tp_build_curve."""
    n = bars.n_bars
    cash = step_history(ledger.cash_bars, ledger.cash_values, n, initial_cash)
    value = np.zeros(n)
    gross = np.zeros(n)
    # Bars are validated finite and > 0, so on a complete row units * close is already +0.0
    # where nothing is held; only NaN before an instrument's first bar needs the mask. (A -0.0
    # in mv would not survive the += below either: 0.0 + -0.0 is 0.0.)
    complete = np.asarray(bars.has_bar.all(axis=1))
    for s in range(len(bars.symbols)):
        units = step_history(ledger.pos_bars[s], ledger.pos_values[s], n, 0.0)
        close = bars.close[s]
        mv = (
            units * close
            if complete[s]
            else np.where(units != 0.0, units * np.nan_to_num(close), 0.0)
        )
        value += mv
        gross += np.abs(mv, out=mv)
    equity = cash + value
    with np.errstate(divide="ignore", invalid="ignore"):
        exposure = gross / equity
    # Flat or underwater accounts: no meaningful ratio (inf if anything is still held).
    broke = ~(equity > 0)
    if broke.any():
        exposure[broke] = np.where(gross[broke] > 0, np.inf, 0.0)
    return Curve(equity, cash, exposure)


def step_history(at: np.ndarray, values: np.ndarray, n: int, before: float) -> np.ndarray:
    """Value after each bar from sorted (bar, value) events; ``before`` until the first one."""
    if not len(at):
        return np.full(n, before)
    # The last event of a bar wins: keep events whose successor is on a later bar.
    last = np.append(at[1:] != at[:-1], True)
    at, values = at[last], values[last]
    counts = np.diff(np.append(at, n))
    out = np.empty(n)
    out[: at[0]] = before
    out[at[0] :] = np.repeat(values, counts)
    return out


def window_drawdown(equity: np.ndarray) -> np.ndarray:
    """equity / running peak - 1 per bar, NaN while the peak is not > 0 (kernel: one pass)."""
    if kernel.KERNEL is not None:
        return kernel.KERNEL.drawdowns(np.ascontiguousarray(equity, np.float64), False, True)[0]
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(peak > 0, equity / peak - 1.0, np.nan)


def mark_open_trades(broker: Broker, bars: AlignedBars) -> list[Trade]:
    """Closed trades in closing order, then open ones marked at the last close (no exit cost)."""
    last = bars.n_bars - 1
    out = list(broker.closed_trades)
    for s, lots in enumerate(broker.open_trades):
        for t in lots:
            t.exit_bar = last
            t.exit_market = t.exit_price = float(bars.close[s, last])
            out.append(t)
    return out


def trade_records(trades: list[Trade], bars: AlignedBars) -> list[dict[str, Any]]:
    return [_trade_record(t, bars, t.exit_bar, t.is_open) for t in trades]


def _net_pnl(t: Trade) -> float:
    return t.size * (t.exit_price - t.entry_price) - t.commission - t.borrow_cost


def _trade_record(t: Trade, bars: AlignedBars, exit_bar: int, is_open: bool) -> dict[str, Any]:
    s, entry = t.sym_index, t.entry_price
    gross = t.size * (t.exit_market - t.entry_market)
    net = _net_pnl(t)
    notional = abs(t.size) * entry
    hi = float(bars.high[s, t.entry_bar : exit_bar + 1].max())
    lo = float(bars.low[s, t.entry_bar : exit_bar + 1].min())
    up, down = hi / entry - 1.0, lo / entry - 1.0
    mfe, mae = (max(up, 0.0), min(down, 0.0)) if t.size > 0 else (max(-down, 0.0), min(-up, 0.0))
    ts = bars.timestamps
    return {
        "id": t.id,
        "symbol": t.symbol,
        "direction": "long" if t.size > 0 else "short",
        "size": t.size,
        "entry_bar": t.entry_bar,
        "entry_time": int(ts[t.entry_bar]),
        "entry_price": entry,
        "exit_bar": exit_bar,
        "exit_time": int(ts[exit_bar]),
        "exit_price": t.exit_price,
        "gross_pnl": gross,
        "net_pnl": net,
        "gross_pnl_pct": 100.0 * gross / notional,
        "net_pnl_pct": 100.0 * net / notional,
        "commission": t.commission,
        "borrow_cost": t.borrow_cost,
        "slippage_cost": gross - net - t.commission - t.borrow_cost,
        "fees": t.commission + t.borrow_cost,
        "duration_seconds": (int(ts[exit_bar]) - int(ts[t.entry_bar])) / 1e9,
        "bars_held": exit_bar - t.entry_bar,
        "mae_pct": 100.0 * mae,
        "mfe_pct": 100.0 * mfe,
        "tag": t.tag,
        "ambiguous": t.ambiguous,
        "open": is_open,
        "exit_reason": "open" if is_open else t.exit_reason,
    }


def order_records(orders: list[Order], ts: np.ndarray) -> list[dict[str, Any]]:
    return [_order_record(o, ts) for o in orders]


def _order_record(o: Order, ts: np.ndarray) -> dict[str, Any]:
    filled = o.fill_bar >= 0
    return {
        "id": o.id,
        "symbol": o.symbol,
        "side": "buy" if o.side > 0 else "sell",
        "kind": o.kind,
        "units": o.units,
        "fraction": o.fraction,
        "value": o.value,
        "limit": o.limit,
        "stop": o.stop,
        "sl": o.sl,
        "tp": o.tp,
        "trail": o.trail,
        "tif": o.tif,
        "tag": o.tag,
        "parent_id": o.parent_id,
        "placed_bar": o.placed_bar,
        "placed_time": int(ts[o.placed_bar]),
        "status": o.status,
        "reason": o.reason,
        "fill_bar": o.fill_bar if filled else None,
        "fill_time": int(ts[o.fill_bar]) if filled else None,
        "fill_price": o.fill_price if filled else None,
        "filled_units": o.filled_units,
        "market_price": o.market_price if filled else None,
        "commission": o.commission,
    }


def statistics_for(
    spec: BacktestSpec,
    bars: AlignedBars,
    window: slice,
    curve: Curve,
    ledger: Ledger,
    full_statistics: bool = True,
) -> dict[str, Any]:
    counted = ~ledger.trade_open if not spec.count_open_trades else slice(None)
    size = ledger.trade_size[counted]
    entry_price = ledger.trade_entry_price[counted]
    # Same operations in the same order as Trade-by-Trade arithmetic, element by element.
    pnl = (
        size * (ledger.trade_exit_price[counted] - entry_price)
        - ledger.trade_commission[counted]
        - ledger.trade_borrow[counted]
    )
    notional = np.abs(size) * entry_price
    entry, exit_ = ledger.trade_entry_bar[counted], ledger.trade_exit_bar[counted]
    ts = bars.timestamps
    # Buy-and-hold of the first instrument unless the spec names another benchmark, so
    # every result can say what doing nothing would have earned.
    benchmark = spec.benchmark if spec.benchmark is not None else bars.symbols[0]
    bench = bars.close[bars.symbols.index(benchmark), window]
    return metrics.compute_statistics(
        timestamps=ts[window],
        equity=curve.equity[window],
        exposure=curve.exposure[window],
        trade_pnl=pnl,
        trade_return=pnl / notional if len(pnl) else pnl,
        trade_bars=(exit_ - entry).astype(np.float64),
        trade_duration_ns=(ts[exit_] - ts[entry]).astype(np.float64),
        benchmark_close=bench,
        risk_free_rate=spec.risk_free_rate,
        periods_per_year=spec.periods_per_year,
        full=full_statistics,
    )


def assemble(
    spec: BacktestSpec,
    bars: AlignedBars,
    broker: Broker,
    mode: str,
    start: int,
    eval_start: int,
    full_statistics: bool = True,
) -> BacktestResult:
    """Freeze a broker-driven run into a BacktestResult."""
    ledger = ledger_from_broker(broker, bars)
    return assemble_ledger(spec, bars, ledger, mode, start, eval_start, full_statistics)


def assemble_ledger(
    spec: BacktestSpec,
    bars: AlignedBars,
    ledger: Ledger,
    mode: str,
    start: int,
    eval_start: int,
    full_statistics: bool = True,
) -> BacktestResult:
    """Freeze the run into a BacktestResult (statistics over the evaluation window;
    ``full_statistics=False``: without metrics.DETAIL_STATISTICS)."""
    window = slice(eval_start, bars.n_bars)
    curve = build_curve(ledger, bars, spec.initial_cash)
    stats = statistics_for(spec, bars, window, curve, ledger, full_statistics)
    arrays: dict[str, np.ndarray] = {
        "timestamps": bars.timestamps[window],
        "equity": curve.equity[window],
        "cash": curve.cash[window],
        "exposure": curve.exposure[window],
        "drawdown": window_drawdown(curve.equity[window]),
    }
    for arr in arrays.values():
        arr.flags.writeable = False
    return BacktestResult(
        engine_version=ENGINE_VERSION,
        mode=mode,
        symbols=bars.symbols,
        spec=spec,
        start_bar=start,
        eval_start_bar=eval_start,
        trades=Records(lambda: trade_records(ledger.trades(), bars)),
        orders=Records(lambda: order_records(ledger.orders(), bars.timestamps)),
        statistics=stats,
        timestamps=arrays["timestamps"],
        equity=arrays["equity"],
        cash=arrays["cash"],
        exposure=arrays["exposure"],
        drawdown=arrays["drawdown"],
    )
