"""Trade storage: the `Trade` table vs one compact columnar field on the backtest row.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tp_jobs2_bench \
    .venv/bin/python -m benchmarks.jobs.bench_trade_storage [--sizes 1000 10000 100000]

For N engine trades (dicts, as the sandbox returns them), times on PostgreSQL:
- write: rows -> storage, inside one transaction (what `_store_success` does);
- read all: every trade in `seq` order as Python values (the CSV export);
- read page: 50 trades from the middle (the paginated API / detail page).
Contenders: `table` (production: trades_from_result + bulk_create in batches of 1,000),
`jsonb` (one {column: [values]} document per backtest) and `bytea` (numeric columns as raw
float64/int64 bytes, text columns as a JSON list, one binary value per backtest). The two
columnar contenders live in a temporary table, so the benchmark needs no migration.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("DJANGO_ENV", "test")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradeplatform.settings")
os.environ.setdefault("DB_POOL_SIZE", "2")
sys.path.insert(0, str(ROOT))

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from backtesting.models import Backtest, Trade  # noqa: E402
from backtesting.results import trades_from_result  # noqa: E402

NUMERIC = ("size", "entry_price", "exit_price", "gross_pnl", "net_pnl", "net_pnl_pct", "fees")
INTEGER = ("id", "bars_held")
TEXT = ("symbol", "direction", "entry_time", "exit_time", "exit_reason", "tag")
PAGE = 50


def engine_trades(n: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(n)
    start = datetime(2000, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        entry = start + timedelta(hours=i)
        entry_time, exit_time = _iso(entry), _iso(entry + timedelta(minutes=30))
        price = float(100 + rng.normal())
        out.append({
            "id": i + 1, "symbol": "AAPL", "direction": "long" if i % 3 else "short",
            "size": float(rng.integers(1, 500)), "entry_time": entry_time,
            "entry_price": price, "exit_time": exit_time,
            "exit_price": price * 1.01, "gross_pnl": float(rng.normal(5, 20)),
            "net_pnl": float(rng.normal(4, 20)), "net_pnl_pct": float(rng.normal(0.001, 0.01)),
            "fees": 1.25, "bars_held": int(rng.integers(1, 40)), "exit_reason": "signal",
            "tag": "", "open": False,
        })  # fmt: skip
    return out


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def columns_of(trades: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [t.get(name) for t in trades] for name in (*INTEGER, *NUMERIC, *TEXT)}


def bytes_of(trades: list[dict[str, Any]]) -> bytes:
    # Layout: u32 length of the JSON text part, the JSON text part, then each numeric column
    # as float64 (NaN for None) and each integer column as int64, in a fixed order.
    text = json.dumps({name: [t.get(name) for t in trades] for name in TEXT}).encode()
    parts = [struct.pack("<I", len(text)), text]
    for name in NUMERIC:
        values = [t.get(name) for t in trades]
        parts.append(np.array([np.nan if v is None else v for v in values], np.float64).tobytes())
    for name in INTEGER:
        parts.append(np.array([t[name] for t in trades], np.int64).tobytes())
    return b"".join(parts)


def columns_from_bytes(blob: bytes, n: int) -> dict[str, Any]:
    (size,) = struct.unpack_from("<I", blob)
    out: dict[str, Any] = json.loads(blob[4 : 4 + size])
    offset = 4 + size
    for name, dtype in [*((c, np.float64) for c in NUMERIC), *((c, np.int64) for c in INTEGER)]:
        out[name] = np.frombuffer(blob, dtype, count=n, offset=offset)
        offset += 8 * n
    return out


def prepare() -> int:
    from accounts.models import User
    from strategies.services import strategy_create

    call_command("migrate", verbosity=0)
    owner, _ = User.objects.get_or_create(username="bench-storage")
    strategy = owner.strategies.filter(name="bench-storage").first() or strategy_create(
        owner=owner, name="bench-storage",
        code=(ROOT / "strategies/examples/sma_crossover.py").read_text(),
    )  # fmt: skip
    backtest = Backtest.objects.create(
        owner=owner, strategy_version=strategy.versions.get(), symbols=["AAPL"], timeframe="1h",
        start=datetime(2000, 1, 1, tzinfo=UTC), end=datetime(2020, 1, 1, tzinfo=UTC),
        queued_at=datetime.now(UTC),
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_blob (backtest_id int PRIMARY KEY, trades_json jsonb, "
            "trades_bytes bytea)"
        )
        cursor.execute("INSERT INTO bench_blob (backtest_id) VALUES (%s)", [backtest.pk])
    return backtest.pk


def table_write(pk: int, trades: list[dict[str, Any]]) -> None:
    with transaction.atomic():
        Trade.objects.filter(backtest_id=pk).delete()
        Trade.objects.bulk_create(trades_from_result(pk, trades), batch_size=1000)


def table_read_all(pk: int, n: int) -> None:
    rows = list(Trade.objects.filter(backtest_id=pk).order_by("seq"))
    assert len(rows) == n


def table_read_page(pk: int, n: int) -> None:
    rows = list(Trade.objects.filter(backtest_id=pk).order_by("seq")[n // 2 : n // 2 + PAGE])
    assert len(rows) == min(PAGE, n)


def json_write(pk: int, trades: list[dict[str, Any]]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE bench_blob SET trades_json = %s::jsonb WHERE backtest_id = %s",
                       [json.dumps(columns_of(trades)), pk])  # fmt: skip


def json_read_all(pk: int, n: int) -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT trades_json::text FROM bench_blob WHERE backtest_id = %s", [pk])
        columns: dict[str, Any] = json.loads(cursor.fetchone()[0])
    assert len(columns["id"]) == n
    return columns


def json_read_page(pk: int, n: int) -> None:
    columns = json_read_all(pk, n)  # the document is read whole; slicing it is the cheap part
    page = {name: values[n // 2 : n // 2 + PAGE] for name, values in columns.items()}
    assert len(page["id"]) == min(PAGE, n)


def bytes_write(pk: int, trades: list[dict[str, Any]]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE bench_blob SET trades_bytes = %s WHERE backtest_id = %s",
                       [bytes_of(trades), pk])  # fmt: skip


def bytes_read_all(pk: int, n: int) -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT trades_bytes FROM bench_blob WHERE backtest_id = %s", [pk])
        columns = columns_from_bytes(bytes(cursor.fetchone()[0]), n)
    assert len(columns["id"]) == n
    return columns


def bytes_read_page(pk: int, n: int) -> None:
    columns = bytes_read_all(pk, n)
    assert len(columns["id"][n // 2 : n // 2 + PAGE]) == min(PAGE, n)


def stored_bytes(pk: int) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_column_size(trades_json), pg_column_size(trades_bytes) FROM bench_blob "
            "WHERE backtest_id = %s", [pk],
        )  # fmt: skip
        json_size, bytes_size = cursor.fetchone()
        cursor.execute(
            "SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM backtesting_trade t "
            "WHERE backtest_id = %s", [pk],
        )  # fmt: skip
        (table_size,) = cursor.fetchone()
    return {"table": int(table_size), "jsonb": int(json_size), "bytea": int(bytes_size)}


def timed(func: Callable[[], Any], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        func()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


CONTENDERS = {
    "table": (table_write, table_read_all, table_read_page),
    "jsonb": (json_write, json_read_all, json_read_page),
    "bytea": (bytes_write, bytes_read_all, bytes_read_page),
}


def measure(
    pk: int, n: int, trades: list[dict[str, Any]], funcs: tuple[Any, Any, Any], repeats: int
) -> tuple[float, float, float]:
    write, read_all, read_page = funcs
    return (
        timed(lambda: write(pk, trades), repeats),
        timed(lambda: read_all(pk, n), repeats),
        timed(lambda: read_page(pk, n), repeats),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run on PostgreSQL: set DATABASE_URL (see the module docstring).")
    pk = prepare()
    print(f"{'trades':>8} {'storage':>7} {'write ms':>10} {'read all ms':>12} "
          f"{'read page ms':>13} {'stored KB':>10}")  # fmt: skip
    try:
        for n in args.sizes:
            trades = engine_trades(n)
            repeats = 5 if n <= 10_000 else 3
            results = {name: measure(pk, n, trades, funcs, repeats)
                       for name, funcs in CONTENDERS.items()}  # fmt: skip
            sizes = stored_bytes(pk)
            base = results["table"]
            for name, (w, r, p) in results.items():
                ratio = f"  (x{base[0] / w:.1f} write, x{base[1] / r:.1f} read all vs table)"
                kb = sizes[name] / 1024
                line = f"{n:>8} {name:>7} {w:>10.1f} {r:>12.1f} {p:>13.2f} {kb:>10.0f}"
                print(line + (ratio if name != "table" else ""))
    finally:
        Trade.objects.filter(backtest_id=pk).delete()
        Backtest.objects.filter(pk=pk).delete()


if __name__ == "__main__":
    main()
