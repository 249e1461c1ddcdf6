"""The exact bars of a backtest and the series versions they were read at.

Both come from one database snapshot (backtesting.marketdata.selectors.bars_snapshot), so the
stored versions describe exactly the bars the sandbox ran on and the fingerprint covers
(backtesting.engine.barcodec.fingerprint_bars), even while an import commits meanwhile.
"""

from __future__ import annotations

from datetime import datetime

from backtesting.marketdata.selectors import BarsSnapshot, bars_snapshot


def bars_for_backtest(
    *, symbols: list[str], timeframe: str, start: datetime, end: datetime
) -> BarsSnapshot:
    """Bars ({symbol: BarSeries}, start <= timestamp <= end, in the order given) and versions."""
    return bars_snapshot(symbols=symbols, timeframe=timeframe, start=start, end=end)
