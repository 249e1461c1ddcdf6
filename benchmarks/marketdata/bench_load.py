"""Benchmark: 1,000,000 SYNTHETIC 1-minute bars from PostgreSQL into NumPy arrays.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tp_marketdata \\
    REDIS_URL=redis://127.0.0.1:6379/4 .venv/bin/python benchmarks/marketdata/bench_load.py

Compares, in one run: the naive ORM loop (a model instance per row; the baseline), the cold
selector path (binary COPY decoded by NumPy), the cold path including filling the cache, and
a warm load from the cache. The data is a seeded random walk, labelled synthetic, written to
instrument SYNTH1M and deleted afterwards (--keep leaves it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradeplatform.settings")
os.environ.setdefault("DJANGO_ENV", "dev")

import django

django.setup()

import numpy as np  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from backtesting.engine import BarSeries  # noqa: E402
from backtesting.marketdata import selectors  # noqa: E402
from backtesting.marketdata.models import Bar, Instrument  # noqa: E402
from backtesting.marketdata.services import series_version_bump  # noqa: E402
from backtesting.marketdata.timeframes import MINUTE_NS, Timeframe  # noqa: E402
from backtesting.marketdata.writes import bars_upsert  # noqa: E402

SYMBOL = "SYNTH1M"
T = TypeVar("T")


def synthetic_bars(n: int) -> BarSeries:
    """A seeded random walk of n consistent 1m bars from 2020-01-01 (synthetic, not market data)."""
    rng = np.random.default_rng(42)
    start = np.datetime64("2020-01-01T00:00", "ns").astype(np.int64)
    timestamps = start + np.arange(n, dtype=np.int64) * MINUTE_NS
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.0005, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    spread = np.abs(rng.normal(0, 0.0003, n)) * close
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread
    volume = rng.integers(1, 1000, n).astype(np.float64)
    return BarSeries(SYMBOL, timestamps, open_, high, low, close, volume)


def timed(label: str, func: Callable[[], T], repeat: int = 1) -> tuple[float, T]:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - started)
    print(f"  {label:<44} {best:8.3f} s")
    return best, result


def naive_loop(instrument: Instrument) -> BarSeries:
    rows = [
        (int(b.timestamp.timestamp() * 1e9), b.open, b.high, b.low, b.close, b.volume)
        for b in Bar.objects.filter(instrument=instrument, timeframe="1m").order_by("timestamp")
    ]
    columns = list(zip(*rows, strict=True))
    return BarSeries(
        SYMBOL,
        np.array(columns[0], dtype=np.int64),
        *(np.array(c, dtype=np.float64) for c in columns[1:]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("This benchmark needs DATABASE_URL pointing at PostgreSQL.")
    print(f"SYNTHETIC data: {args.bars:,} random-walk 1m bars (instrument {SYMBOL})")
    remove(SYMBOL)
    instrument = Instrument.objects.create(
        symbol=SYMBOL, name="Synthetic benchmark series", asset_class="crypto"
    )
    bars = synthetic_bars(args.bars)
    with transaction.atomic():
        timed(
            "write (COPY + INSERT ON CONFLICT)",
            lambda: bars_upsert(
                instrument_id=instrument.pk,
                timeframe="1m",
                bars=bars,
                batch_size=50_000,
                progress=None,
            ),
        )
        series_version_bump(instrument, "1m", changed=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE marketdata_bar")
    try:
        run(instrument, bars)
    finally:
        if not args.keep:
            remove(SYMBOL)


def remove(symbol: str) -> None:
    # Plain SQL: the ORM's cascade collector would visit every model that references instruments.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT id FROM marketdata_instrument WHERE symbol = %s", [symbol])
        row = cursor.fetchone()
        if row:
            for table in ("marketdata_bar", "marketdata_series_version"):
                cursor.execute(f"DELETE FROM {table} WHERE instrument_id = %s", [row[0]])  # noqa: S608
            cursor.execute("DELETE FROM marketdata_instrument WHERE id = %s", [row[0]])


def explain_range(instrument: Instrument) -> None:
    """The plan of a one-month range read, the query shape the API and selectors use."""
    qs = (
        Bar.objects.filter(
            instrument=instrument,
            timeframe="1m",
            timestamp__gte="2020-06-01T00:00:00Z",
            timestamp__lt="2020-07-01T00:00:00Z",
        )
        .order_by("timestamp")
        .values_list("timestamp", "close")
    )
    print("  EXPLAIN (one month of 1m bars):")
    for line in qs.explain(analyze=True, buffers=True).splitlines():
        print(f"    {line}")


def run(instrument: Instrument, expected: BarSeries) -> None:
    load = lambda: selectors._load_from_database(instrument, Timeframe.M1, None, None)  # noqa: E731
    naive, naive_result = timed("naive ORM loop (baseline)", lambda: naive_loop(instrument))
    cold, cold_result = timed("cold: binary COPY -> NumPy (best of 3)", load, repeat=3)

    key = selectors._cache_key(instrument.pk, Timeframe.M1, 1, Timeframe.M1, None, None)

    def cold_with_cache_fill() -> BarSeries:
        cache.delete(key)
        return selectors.bars_load_arrays(SYMBOL, "1m")

    fill, _ = timed("cold + cache fill: bars_load_arrays", cold_with_cache_fill)
    warm, warm_result = timed(
        "warm: bars_load_arrays from cache (best of 3)",
        lambda: selectors.bars_load_arrays(SYMBOL, "1m"),
        repeat=3,
    )
    for result in (naive_result, cold_result, warm_result):
        assert np.array_equal(result.timestamps, expected.timestamps)
        assert np.array_equal(result.close, expected.close)
    print(f"  cold vs naive:        {naive / cold:6.1f}x faster")
    print(f"  cold+fill vs naive:   {naive / fill:6.1f}x faster")
    print(f"  warm cache vs naive:  {naive / warm:6.1f}x faster")
    print(f"  warm cache vs cold:   {cold / warm:6.1f}x faster")
    print(f"  cached blob: {len(expected) * 48 / 1e6:.1f} MB of raw column bytes")
    explain_range(instrument)


if __name__ == "__main__":
    main()
