"""A finished backtest's plotted indicators as compact arrays, as backtesting.curves does it.

Layout:

    BacktestResult.indicators        JSON {"series": [{"name", "symbol"}], "dropped": n}: the
                                     names in order, and how many the run could not send
    BacktestResult.indicator_values  bytea, no header: N little-endian int64 bar times (ns
                                     since the epoch, every bar of the run, warm-up included),
                                     then each series' N float64 values in the order above
                                     (NaN where it has no value); N = bytes // 8 // (1 + series)

Both are null for results stored before indicators were kept, and for a run that registered
none: such a result simply draws no indicator.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class StoredIndicator:
    name: str
    symbol: str
    values: np.ndarray


@dataclass(frozen=True)
class StoredIndicators:
    timestamps: np.ndarray  # int64 ns, every bar of the run
    series: tuple[StoredIndicator, ...]
    dropped: int  # left out by the sandbox to stay within its output bound


def indicators_encode(wire: dict[str, Any] | None) -> dict[str, Any]:
    """The two columns' values of the sandbox's checked indicators ({} when there are none)."""
    if not wire:
        return {}
    parts = [base64.b64decode(wire["timestamps"])]
    parts += [base64.b64decode(s["values"]) for s in wire["series"]]
    meta = {
        "series": [{"name": s["name"], "symbol": s["symbol"]} for s in wire["series"]],
        "dropped": wire["dropped"],
    }
    return {"indicators": meta, "indicator_values": b"".join(parts)}


def indicators_decode(
    meta: dict[str, Any] | None, blob: bytes | memoryview | None
) -> StoredIndicators | None:
    """What indicators_encode stored, or None when nothing was."""
    if meta is None or blob is None:
        return None
    names = meta.get("series", [])
    arrays = np.frombuffer(bytes(blob), dtype="<i8")
    n = len(arrays) // (1 + len(names))
    stamps = arrays[:n]
    values = np.frombuffer(bytes(blob), dtype="<f8")
    series = tuple(
        StoredIndicator(item["name"], item["symbol"], values[(k + 1) * n : (k + 2) * n])
        for k, item in enumerate(names)
    )
    return StoredIndicators(stamps, series, int(meta.get("dropped", 0)))
