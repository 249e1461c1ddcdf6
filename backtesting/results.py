"""Shaping engine results into rows, and rows back into CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from backtesting.models import Trade

TRADE_CSV_FIELDS = (
    "seq", "symbol", "direction", "size", "entry_time", "entry_price", "exit_time",
    "exit_price", "gross_pnl", "net_pnl", "net_pnl_pct", "fees", "bars_held", "exit_reason",
    "tag", "is_open",
)  # fmt: skip


def _time(value: str | None) -> datetime | None:
    # The engine writes "...Z"; fromisoformat accepts it from Python 3.11 on.
    return datetime.fromisoformat(value) if value else None


class ResultNotStorableError(Exception):
    """A finished run whose result cannot be stored: final, since every rerun fails the same way."""

    code = "result_not_storable"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.message = (
            f"The backtest ran, but its result could not be stored: {reason}. Running it "
            "again would fail the same way, so it was not retried."
        )
        super().__init__(self.message)


def trades_from_result(backtest_id: int, trades: list[dict[str, Any]]) -> list[Trade]:
    """Unsaved Trade rows for bulk_create, one per engine trade, in the engine's order.

    Raises ResultNotStorableError for a text longer than its column; KeyError, TypeError or
    ValueError for a trade of the wrong shape.
    """
    rows = [_trade_row(backtest_id, t) for t in trades]
    for row in rows:
        _check_text_lengths(row)
    return rows


def _trade_row(backtest_id: int, t: dict[str, Any]) -> Trade:
    return Trade(
        backtest_id=backtest_id,
        seq=t["id"],
        symbol=t["symbol"],
        direction=t["direction"],
        size=t["size"],
        entry_time=datetime.fromisoformat(t["entry_time"]),
        entry_price=t["entry_price"],
        exit_time=_time(t.get("exit_time")),
        exit_price=t.get("exit_price"),
        gross_pnl=t.get("gross_pnl"),
        net_pnl=t.get("net_pnl"),
        net_pnl_pct=t.get("net_pnl_pct"),
        fees=t.get("fees") or 0.0,
        bars_held=t.get("bars_held") or 0,
        exit_reason=t.get("exit_reason") or "",
        tag=t.get("tag") or "",
        is_open=bool(t.get("open")),
    )


_TEXT_COLUMNS = ("symbol", "direction", "exit_reason", "tag")


def _check_text_lengths(row: Trade) -> None:
    # The database would refuse these too (DataError), but only this check can say which value.
    for name in _TEXT_COLUMNS:
        value = getattr(row, name)
        limit = getattr(Trade._meta.get_field(name), "max_length", None) or 0
        if not isinstance(value, str):
            raise TypeError(f"trade {row.seq}: {name} is not text")
        if len(value) > limit:
            raise ResultNotStorableError(
                f"trade {row.seq} has a {name} of {len(value):,} characters, and at most "
                f"{limit} can be stored; shorten it in your strategy"
            )


def trades_csv_rows(trades: Iterable[Trade]) -> Iterator[str]:
    """CSV lines (header first) for a streaming response; never holds every trade as text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(TRADE_CSV_FIELDS)
    yield flush()
    for trade in trades:
        writer.writerow([_csv_value(getattr(trade, name)) for name in TRADE_CSV_FIELDS])
        yield flush()


def _csv_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    # A cell starting with = + - @ is a formula in spreadsheets; tags are user-controlled.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
