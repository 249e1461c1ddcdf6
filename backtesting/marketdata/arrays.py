"""Small helpers around the engine's BarSeries.

Market data hands the engine exactly the type it runs on (`backtesting.engine.BarSeries`),
so there is one bar-array type in the project; its byte form is the engine's bar codec
(`backtesting.engine.barcodec`). Django-free.
"""

from __future__ import annotations

import numpy as np

from backtesting.engine import BarSeries
from backtesting.engine.bars import FIELDS


def empty_series(symbol: str) -> BarSeries:
    floats = [np.empty(0, dtype=np.float64) for _ in FIELDS]
    return BarSeries(symbol, np.empty(0, dtype=np.int64), *floats)


def series_slice(bars: BarSeries, start: int, stop: int) -> BarSeries:
    return BarSeries(
        bars.symbol,
        bars.timestamps[start:stop],
        *(getattr(bars, name)[start:stop] for name in FIELDS),
    )
