"""Reads of backtest jobs: scoped lists with filters, scoped lookups."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Exists, F, Max, Min, OuterRef, QuerySet

from accounts.ownership import get_visible_or_404
from backtesting.marketdata.models import Bar, Instrument
from backtesting.models import Backtest, BacktestQuerySet, BacktestResult, BacktestStatus, Trade
from tradeplatform.errors import NotFoundError


def backtest_list(
    *,
    user: Any,
    status: str | None = None,
    strategy_id: int | None = None,
    instrument: str | None = None,
) -> BacktestQuerySet:
    """The user's own backtests, newest first (operators too: "mine" is the API's promise).

    Never loads a result (BacktestResult) nor the strategy code: a list shows neither.
    """
    qs = (
        Backtest.objects.owned_by(user)
        .select_related("strategy_version__strategy")
        .defer("strategy_version__code")
    )
    if status:
        qs = qs.filter(status=status)
    if strategy_id:
        qs = qs.filter(strategy_version__strategy_id=strategy_id)
    if instrument:
        qs = qs.filter(instruments__symbol=instrument.upper())
    return qs.recent()


def backtest_get(
    *, user: Any, pk: Any, with_result: bool = False, without_curves: bool = False
) -> Backtest:
    """A backtest the user may see (own, or any for verified operators); 404 otherwise.

    with_result: join its BacktestResult too (detail views), so reading it costs no query.
    without_curves: leave the result's curve arrays in the database (a page that shows
    metrics and the log, not the curves: a million-bar run's arrays are tens of megabytes).
    """
    qs = Backtest.objects.select_related("strategy_version__strategy", "rerun_of")
    if with_result:
        qs = qs.select_related("result")
        if without_curves:
            qs = qs.defer("result__timestamps", "result__equity", "result__drawdown")
    return get_visible_or_404(qs, user, pk=pk)


def backtest_trades(*, backtest: Backtest) -> Any:
    return Trade.objects.filter(backtest=backtest).order_by("seq")


# Columns the detail page's trades table sorts by; anything else falls back to the engine's order.
TRADE_SORT_FIELDS = frozenset({
    "seq", "symbol", "direction", "size", "entry_time", "entry_price", "exit_time",
    "exit_price", "net_pnl", "net_pnl_pct", "bars_held",
})  # fmt: skip


def backtest_trades_filtered(
    *, backtest: Backtest, symbol: str = "", side: str = "", sort: str = "seq"
) -> QuerySet[Trade]:
    """A backtest's trades of one symbol and/or side, ordered by `sort` ("-net_pnl": descending).

    An unknown `sort` means the engine's order (seq). Open trades have no exit or P&L yet:
    they sort last either way, and `seq` breaks ties so pages never overlap.
    """
    trades = Trade.objects.filter(backtest=backtest)
    if symbol:
        trades = trades.filter(symbol=symbol)
    if side:
        trades = trades.filter(direction=side)
    field = sort.removeprefix("-")
    if field not in TRADE_SORT_FIELDS:
        return trades.order_by("seq")
    column = (
        F(field).desc(nulls_last=True) if sort.startswith("-") else F(field).asc(nulls_last=True)
    )
    return trades.order_by(column, "seq")


def backtest_headline_metrics(
    *, backtest_ids: list[int], keys: tuple[str, ...]
) -> dict[int, dict[str, Any]]:
    """{backtest id: {key: value}} of a few statistics, read from the results' JSON in one query.

    For list pages, which must not load whole results: only the named keys leave the database.
    """
    columns = {key: F(f"metrics__{key}") for key in keys}
    rows = BacktestResult.objects.filter(backtest_id__in=backtest_ids).values(
        "backtest_id", **columns
    )
    return {row["backtest_id"]: {key: row[key] for key in keys} for row in rows}  # type: ignore[literal-required]


def runnable_instruments() -> tuple[list[str], date | None, date | None]:
    """Symbols of active instruments that have bars, and the first and last day of those bars."""
    has_bars = Exists(Bar.objects.filter(instrument=OuterRef("pk")))
    symbols = list(
        Instrument.objects.active()
        .filter(has_bars)
        .order_by("symbol")
        .values_list("symbol", flat=True)
    )
    span = Bar.objects.filter(instrument__symbol__in=symbols).aggregate(
        first=Min("timestamp"), last=Max("timestamp")
    )
    first, last = span["first"], span["last"]
    return symbols, first.date() if first else None, last.date() if last else None


def backtests_to_compare(*, user: Any, ids: list[int]) -> list[Backtest]:
    """The user's OWN backtests `ids`, in that order, results joined (the compare page).

    Raises NotFoundError when any id is not one of theirs: another user's backtest is not
    found, never compared (operators included: compare is about one's own work).
    """
    found = (
        Backtest.objects.owned_by(user)
        .select_related("strategy_version__strategy", "result")
        .defer("strategy_version__code")
        .in_bulk(ids)
    )
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise NotFoundError(f"No backtest {missing[0]}.")
    return [found[pk] for pk in ids]


def backtests_comparable(*, user: Any, limit: int = 50) -> list[Backtest]:
    """The user's succeeded backtests, newest first, for the compare picker (no result loaded)."""
    qs = (
        Backtest.objects.owned_by(user)
        .filter(status=BacktestStatus.SUCCEEDED)
        .select_related("strategy_version__strategy")
        .defer("strategy_version__code")
        .recent()
    )
    return list(qs[:limit])
