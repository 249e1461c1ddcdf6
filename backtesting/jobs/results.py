"""Shaping engine results into rows, and rows back into CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from backtesting.jobs.models import Trade

TRADE_CSV_FIELDS = (
    "seq", "symbol", "direction", "size", "entry_time", "entry_price", "exit_time",
    "exit_price", "gross_pnl", "net_pnl", "net_pnl_pct", "fees", "bars_held", "exit_reason",
    "tag", "is_open",
)  # fmt: skip


def _time(value: str | None) -> datetime | None:
    # The engine writes "...Z"; fromisoformat accepts it from Python 3.11 on.
    return datetime.fromisoformat(value) if value else None


def trades_from_result(backtest_id: int, trades: list[dict[str, Any]]) -> list[Trade]:
    """Unsaved Trade rows for bulk_create, one per engine trade, in the engine's order."""
    return [
        Trade(
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
        for t in trades
    ]


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
