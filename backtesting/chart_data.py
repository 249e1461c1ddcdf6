"""The detail page's chart data of one backtest: reads the stored result, its trades and the
market data the run used, and shapes them with backtesting.chart_series.

Two documents, so the page can ask for both at once and draw each as it arrives:
`backtest_chart_data` (equity with the benchmark, drawdown, monthly returns, trade returns) and
`backtest_price_data` (one symbol's candles, volume and trade markers). A finished backtest's
result never changes, so both are cached under the backtest's id and finish time: the second
visit costs one cache read instead of a million-bar load. The worker builds them as soon as a
run succeeds (`backtest_charts_prepare`, from the bars it already holds), so even the first
visit finds them there; a visit after the cache lost them builds them again from the database.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from backtesting import selectors
from backtesting.chart_series import (
    TradeEvent,
    benchmark_equity,
    candle_points,
    candles_bucketed,
    chart_series,
    indicator_points,
    monthly_returns,
    trade_markers,
    trade_return_histogram,
)
from backtesting.curves import CURVE_SERIES
from backtesting.engine import BarSeries
from backtesting.engine.spec import BacktestSpec
from backtesting.indicator_arrays import indicators_decode
from backtesting.marketdata.selectors import bars_load_arrays
from backtesting.marketdata.writes import datetime_to_ns
from backtesting.models import Backtest, BacktestResult, Trade
from tradeplatform.errors import NotFoundError
from tradeplatform.soft_cache import soft_get, soft_set

logger = logging.getLogger(__name__)

# Bump when a document's shape changes, so cached documents of the old shape are not served.
CHART_DATA_VERSION = 2
CACHE_SECONDS = 24 * 3600

BarsOf = Callable[[str], BarSeries]  # symbol -> the run's bars of it
# A trade as the charts read it: seq, symbol, direction, entry time and price, exit time and
# price, net P&L %, open.
TradeRow = tuple[int, str, str, datetime, float, datetime | None, float | None, float | None, bool]
TRADE_COLUMNS = ("seq", "symbol", "direction", "entry_time", "entry_price", "exit_time",
                 "exit_price", "net_pnl_pct", "is_open")  # fmt: skip


@dataclass(frozen=True)
class RunOutputs:
    """What a worker just stored of a succeeded run, still in its memory: the row (with its
    finish time), the result row and the trade rows. The charts built from these read nothing
    back from the database."""

    backtest: Backtest
    result: BacktestResult
    trades: Sequence[Trade]


@dataclass(frozen=True)
class _RunSource:
    """Where the documents read the run's outputs; each read happens only if a document
    needs it (a cached document needs none)."""

    result: Callable[[], BacktestResult | None]
    trades: Callable[[], list[TradeRow]]  # every trade, in seq order
    indicators: Callable[[], tuple[Any, Any] | None]  # (indicators, indicator_values)


def _stored_source(backtest: Backtest) -> _RunSource:
    def indicators() -> tuple[Any, Any] | None:
        # Only the two indicator columns: the rest of the result (the curves) is not needed.
        return (
            BacktestResult.objects.filter(backtest_id=backtest.pk)
            .values_list("indicators", "indicator_values")
            .first()
        )

    def trades() -> list[TradeRow]:
        return list(selectors.backtest_trades(backtest=backtest).values_list(*TRADE_COLUMNS))

    return _RunSource(lambda: backtest.result_or_none, functools.cache(trades), indicators)


def _memory_source(outputs: RunOutputs) -> _RunSource:
    def trades() -> list[TradeRow]:
        rows = sorted(outputs.trades, key=lambda t: t.seq)
        # float(): what a FloatField reads back, whatever JSON number the engine sent.
        return [
            (t.seq, t.symbol, t.direction, t.entry_time, float(t.entry_price), t.exit_time,
             _float_or_none(t.exit_price), _float_or_none(t.net_pnl_pct), t.is_open)
            for t in rows
        ]  # fmt: skip

    result = outputs.result
    return _RunSource(lambda: result, trades, lambda: (result.indicators, result.indicator_values))


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def backtest_chart_data(backtest: Backtest) -> dict[str, Any]:
    """{"equity", "drawdown", "benchmark", "monthly_returns", "trade_returns", "symbols",
    "prices"}: "prices" is the first symbol's price document (backtest_price_data), so the
    page needs one request and a rebuild loads the usual benchmark's bars (the first
    symbol's) once for both.

    Series are empty (and the rest null) while the backtest has no stored curve. Reads the
    result only when the document is not cached (the curve arrays are megabytes).
    """
    bars_of = functools.cache(_stored_bars(backtest))
    source = _stored_source(backtest)
    summary = _cached(backtest, "summary", lambda: _chart_data(backtest, bars_of, source))
    prices = None
    if summary["equity"] and backtest.symbols:
        first = backtest.symbols[0]
        # NotFoundError: the instrument was deleted since; the other charts still stand.
        with contextlib.suppress(NotFoundError):
            prices = _cached(
                backtest, f"prices:{first}", lambda: _price_data(backtest, first, bars_of, source)
            )
    return {**summary, "prices": prices}


def backtest_price_data(backtest: Backtest, symbol: str) -> dict[str, Any]:
    """{"symbol", "bars", "bucket", "candles", "volume", "markers", "indicators",
    "indicators_dropped"} of one of the run's symbols (NotFoundError for another one).

    "indicators" are the strategy's lines over this symbol: [{"name", "overlay", "points"}],
    one point per candle; "overlay" says whether they live on the price's scale."""
    if symbol not in backtest.symbols:
        raise NotFoundError(f"Backtest {backtest.pk} did not trade {symbol!r}.")
    build = lambda: _price_data(  # noqa: E731
        backtest, symbol, _stored_bars(backtest), _stored_source(backtest)
    )
    return _cached(backtest, f"prices:{symbol}", build)


def backtest_charts_prepare(
    *, backtest_id: int, bars: Mapping[str, BarSeries], outputs: RunOutputs | None = None
) -> None:
    """Build and cache every chart document of a just-succeeded backtest from `bars`, the
    bars its run used (the worker's snapshot), so no visit has to load them again.

    `outputs`: what the worker just stored, so nothing is read back (else the row, its result
    and its trades are read). Never raises: the charts are rebuilt on demand if this fails,
    and the run itself stands.
    """
    try:
        if outputs is None:
            backtest = Backtest.objects.select_related("result").get(pk=backtest_id)
            source = _stored_source(backtest)
        else:
            backtest, source = outputs.backtest, _memory_source(outputs)
        stored = _stored_bars(backtest)
        bars_of: BarsOf = lambda symbol: bars[symbol] if symbol in bars else stored(symbol)  # noqa: E731
        _store(backtest, "summary", _chart_data(backtest, bars_of, source))
        for symbol in backtest.symbols:
            _store(backtest, f"prices:{symbol}", _price_data(backtest, symbol, bars_of, source))
    except Exception:
        logger.exception("chart data not prepared", extra={"backtest_id": backtest_id})


def _stored_bars(backtest: Backtest) -> BarsOf:
    return lambda symbol: bars_load_arrays(symbol, backtest.timeframe, backtest.start, backtest.end)


def _cache_key(backtest: Backtest, name: str) -> str | None:
    if backtest.finished_at is None:
        return None  # not final yet: nothing to cache
    stamp = backtest.finished_at.timestamp()
    return f"charts:{CHART_DATA_VERSION}:{backtest.pk}:{stamp}:{name}"


def _store(backtest: Backtest, name: str, data: dict[str, Any]) -> None:
    key = _cache_key(backtest, name)
    if key is not None:
        soft_set(key, data, timeout=CACHE_SECONDS)


def _cached(backtest: Backtest, name: str, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    key = _cache_key(backtest, name)
    data = soft_get(key) if key is not None else None
    if data is None:
        data = build()
        _store(backtest, name, data)
    return data  # type: ignore[no-any-return]


def curve_arrays(result: BacktestResult | None) -> dict[str, np.ndarray] | None:
    """{"timestamps", "equity", "drawdown"} of the stored curve as arrays, or None."""
    if result is None or result.timestamps is None:
        return None
    arrays = {"timestamps": np.frombuffer(bytes(result.timestamps), dtype="<i8")}
    for name in CURVE_SERIES:
        raw = getattr(result, name)
        arrays[name] = np.frombuffer(bytes(raw), dtype="<f8") if raw is not None else np.empty(0)
    return arrays


def _chart_data(backtest: Backtest, bars_of: BarsOf, source: _RunSource) -> dict[str, Any]:
    curve = curve_arrays(source.result())
    if curve is None:
        empty: dict[str, Any] = {name: [] for name in CURVE_SERIES}
        return empty | {"benchmark": None, "monthly_returns": [], "trade_returns": None,
                        "symbols": list(backtest.symbols)}  # fmt: skip
    stamps, equity = curve["timestamps"], curve["equity"]
    return {
        **{name: chart_series(stamps[: len(curve[name])], curve[name]) for name in CURVE_SERIES},
        "benchmark": _benchmark(backtest, stamps, equity, bars_of),
        "monthly_returns": monthly_returns(stamps, equity, _initial_cash(backtest)),
        "trade_returns": trade_return_histogram(_trade_returns_pct(source.trades())),
        "symbols": list(backtest.symbols),
    }


def _initial_cash(backtest: Backtest) -> float:
    return float(backtest.settings.get("initial_cash", BacktestSpec.initial_cash))


def _benchmark(
    backtest: Backtest, stamps: np.ndarray, equity: np.ndarray, bars_of: BarsOf
) -> dict[str, Any] | None:
    # The engine's default: buy-and-hold of the first symbol unless the run names another.
    symbol = backtest.settings.get("benchmark") or (backtest.symbols or [None])[0]
    if not symbol:
        return None
    try:
        bars = bars_of(symbol)
    except NotFoundError:
        return None  # the instrument was deleted since: the strategy's line still stands
    times, values = benchmark_equity(stamps, equity, bars)
    return {"symbol": symbol, "points": chart_series(times, values)}


def _trade_returns_pct(trades: list[TradeRow]) -> np.ndarray:
    closed = [pnl for *_, pnl, is_open in trades if not is_open and pnl is not None]
    return np.array(closed, dtype=np.float64)


def _price_data(
    backtest: Backtest, symbol: str, bars_of: BarsOf, source: _RunSource
) -> dict[str, Any]:
    bars = bars_of(symbol)
    candles = candles_bucketed(bars)
    ohlc, volume = candle_points(candles)
    return {
        "symbol": symbol,
        "bars": len(bars),
        "bucket": -(-len(bars) // len(candles)) if len(candles) else 0,
        "candles": ohlc,
        "volume": volume,
        "markers": trade_markers(_trade_events(source.trades(), symbol), candles.timestamps),
        **_indicator_lines(source, symbol, bars, candles),
    }


def _indicator_lines(
    source: _RunSource, symbol: str, bars: BarSeries, candles: BarSeries
) -> dict[str, Any]:
    row = source.indicators()
    stored = indicators_decode(*row) if row else None
    if stored is None:
        return {"indicators": [], "indicators_dropped": 0}
    lines = []
    for item in stored.series:
        if item.symbol != symbol:
            continue
        points = indicator_points(bars.timestamps, candles.timestamps, stored.timestamps,
                                  item.values)  # fmt: skip
        lines.append({"name": item.name, "overlay": _overlays(points, candles), "points": points})
    return {"indicators": lines, "indicators_dropped": stored.dropped}


def _overlays(points: list[Any], candles: BarSeries) -> bool:
    """Whether a line belongs on the price's scale (a moving average) rather than its own pane
    (an RSI between 0 and 100 would flatten the candles): its typical value is within 20 % of
    the close."""
    if not points:
        return True
    starts = candles.timestamps // 1_000_000_000
    at = np.minimum(np.searchsorted(starts, [p["time"] for p in points]), len(starts) - 1)
    distance = np.abs(np.array([p["value"] for p in points]) / candles.close[at] - 1.0)
    # Moving averages and bands stay within a few percent of the close; an oscillator's 0..100
    # is far from most prices (it may cross them, so the typical distance is what counts).
    return bool(np.median(distance) <= 0.2)


def _trade_events(trades: list[TradeRow], symbol: str) -> list[TradeEvent]:
    events: list[TradeEvent] = []
    for seq, of, direction, entry_time, entry_price, exit_time, exit_price, pnl, is_open in trades:
        if of != symbol:
            continue
        events.append(TradeEvent(seq, "entry", direction, datetime_to_ns(entry_time), entry_price))
        if not is_open and exit_time is not None and exit_price is not None:
            events.append(
                TradeEvent(seq, "exit", direction, datetime_to_ns(exit_time), exit_price, pnl)
            )
    return events
