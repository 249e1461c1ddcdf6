"""Benchmark inputs: synthetic random walks or a real OHLCV CSV."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import numpy as np

from backtesting.engine import BarSeries

DAY_NS = 86_400 * 10**9
MINUTE_NS = 60 * 10**9
START_NS = 1_262_304_000 * 10**9  # 2010-01-01


def synthetic(n: int, seed: int = 42, symbol: str = "SYN", step_ns: int = DAY_NS) -> BarSeries:
    """Geometric random walk with consistent OHLC, one bar per ``step_ns`` (default a day).

    Long series use minute bars: a million days would not fit in int64 nanoseconds.
    """
    rng = np.random.default_rng(seed)
    # ~19% a year of volatility whatever the bar length, and no drift, so a million bars stay
    # in a realistic price range.
    vol = 0.012 * (step_ns / DAY_NS) ** 0.5
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
    open_ = np.r_[close[0], close[:-1]] * np.exp(rng.normal(0.0, vol / 6, n))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0.0, vol / 3, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0.0, vol / 3, n)))
    ts = START_NS + np.arange(n, dtype=np.int64) * step_ns
    return BarSeries(
        symbol, ts, open_, high, low, close, rng.integers(100_000, 1_000_000, n).astype(float)
    )


def load_csv(path: Path, symbol: str = "REAL") -> BarSeries:
    """A CSV (optionally .gz) with a date/timestamp column and open, high, low, close[, volume]."""
    raw = path.read_bytes()
    text = gzip.decompress(raw).decode() if path.suffix == ".gz" else raw.decode()
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    if not rows:
        raise SystemExit(f"{path}: no rows")
    cols = {k.lower().strip(): k for k in rows[0]}
    time_col = next(cols[k] for k in ("timestamp", "date", "datetime", "time") if k in cols)
    ts = np.array([np.datetime64(r[time_col].replace("Z", ""), "ns") for r in rows])
    order = np.argsort(ts)

    def col(name: str) -> np.ndarray:
        if name not in cols:
            return np.zeros(len(rows)) if name == "volume" else np.array([])
        return np.array([float(r[cols[name]]) for r in rows])[order]

    return BarSeries(
        symbol,
        ts[order].astype(np.int64),
        col("open"),
        col("high"),
        col("low"),
        col("close"),
        col("volume"),
    )


def save_bars(path: Path, bars: dict[str, BarSeries]) -> None:
    """One .npz per case, read by every contender's fresh process (aligned: one time axis)."""
    series = list(bars.values())
    fields = {
        f: np.vstack([getattr(b, f) for b in series])
        for f in ("open", "high", "low", "close", "volume")
    }
    fields.update(symbols=np.array(list(bars)), ts=series[0].timestamps)
    np.savez(path, **fields)  # type: ignore[arg-type]  # the stub reads **kwds as a flag


def load_bars(path: Path) -> dict[str, BarSeries]:
    d = np.load(path)
    return {
        str(sym): BarSeries(
            str(sym), d["ts"], d["open"][k], d["high"][k], d["low"][k], d["close"][k],
            d["volume"][k],
        )
        for k, sym in enumerate(d["symbols"])
    }  # fmt: skip


def head(bars: dict[str, BarSeries], n: int) -> dict[str, BarSeries]:
    """The first ``n`` bars of every instrument (the warm-up call's input)."""
    return {
        s: BarSeries(
            s, b.timestamps[:n], b.open[:n], b.high[:n], b.low[:n], b.close[:n], b.volume[:n]
        )
        for s, b in bars.items()
    }
