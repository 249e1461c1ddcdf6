"""Reads of robustness runs, and the arrays a run computes from (a backtest's trades, curve
and bars)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from accounts.ownership import get_visible_or_404
from backtesting.bars import bars_for_backtest
from backtesting.chart_data import curve_arrays
from backtesting.engine.bars import BarSeries, align_bars
from backtesting.models import Backtest, BacktestResult, Trade
from backtesting.robustness.models import RobustnessRun, RobustnessRunQuerySet


def robustness_list(*, user: Any, backtest: Backtest) -> RobustnessRunQuerySet:
    """The user's runs on `backtest`, newest first; never loads a result."""
    return RobustnessRun.objects.owned_by(user).filter(backtest=backtest).recent()


def robustness_get(*, user: Any, pk: Any, with_result: bool = False) -> RobustnessRun:
    """A run the user may see (own, or any for verified operators); 404 otherwise."""
    qs = RobustnessRun.objects.select_related("backtest")
    if with_result:
        qs = qs.select_related("result")
    return get_visible_or_404(qs, user, pk=pk)


@dataclass(frozen=True)
class TradeSeries:
    """Closed trades in the order they closed: net P&L and exit time (ns since the epoch)."""

    net_pnl: np.ndarray
    exit_ns: np.ndarray


def closed_trades(backtest: Backtest) -> TradeSeries:
    # Open trades have no final P&L yet: a resampled sequence of closed trades only.
    rows = (
        Trade.objects.filter(backtest=backtest, is_open=False, net_pnl__isnull=False)
        .order_by("exit_time", "seq")
        .values_list("net_pnl", "exit_time")
    )
    pnl = np.array([r[0] for r in rows], dtype=np.float64)
    exits = np.array([_ns(r[1]) for r in rows], dtype=np.int64)
    return TradeSeries(pnl, exits)


@dataclass(frozen=True)
class CurveSeries:
    timestamps_ns: np.ndarray
    equity: np.ndarray


def equity_series(backtest: Backtest) -> CurveSeries | None:
    """The stored equity curve as arrays (None without a curve)."""
    result = BacktestResult.objects.filter(backtest=backtest).first()
    arrays = curve_arrays(result)
    if arrays is None or len(arrays["equity"]) == 0:
        return None
    return CurveSeries(arrays["timestamps"], arrays["equity"])


@dataclass(frozen=True)
class ChanceInputs:
    """Aligned closes (n_symbols, n_bars) and the closed trades as bar indices into them."""

    close: np.ndarray
    trades: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def backtest_bars(backtest: Backtest) -> dict[str, BarSeries]:
    return bars_for_backtest(
        symbols=list(backtest.symbols),
        timeframe=backtest.timeframe,
        start=backtest.start,
        end=backtest.end,
    ).bars


def chance_inputs(backtest: Backtest) -> ChanceInputs:
    """Raises ValueError when a trade's times are not bars of the data (it changed since)."""
    aligned = align_bars(backtest_bars(backtest))
    row = {s: i for i, s in enumerate(aligned.symbols)}
    rows = Trade.objects.filter(backtest=backtest, is_open=False, exit_time__isnull=False)
    records = list(
        rows.order_by("seq").values_list("symbol", "entry_time", "exit_time", "direction")
    )
    symbol = np.array([row[r[0]] for r in records if r[0] in row], dtype=np.int64)
    if len(symbol) != len(records):
        raise ValueError("a trade's instrument is not among the backtest's bars")
    entry = _bar_index(aligned.timestamps, [r[1] for r in records])
    exit_ = _bar_index(aligned.timestamps, [r[2] for r in records])
    side = np.array([1 if r[3] == "long" else -1 for r in records], dtype=np.int64)
    return ChanceInputs(aligned.close, (symbol, entry, exit_, side))


def _bar_index(clock: np.ndarray, times: list[Any]) -> np.ndarray:
    ns = np.array([_ns(t) for t in times], dtype=np.int64)
    index = np.searchsorted(clock, ns)
    if len(ns) and (
        np.any(index >= len(clock)) or np.any(clock[np.minimum(index, len(clock) - 1)] != ns)
    ):
        raise ValueError(
            "the market data changed since the backtest ran: its trades no longer match its bars"
        )
    return index.astype(np.int64)


def _ns(moment: Any) -> int:
    # Bars are on whole seconds; integer arithmetic keeps nanoseconds exact.
    return int(moment.timestamp()) * 1_000_000_000
