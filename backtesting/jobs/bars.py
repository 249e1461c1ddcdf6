"""The exact bars of a backtest and their data versions.

Loading goes through the market-data selector (cached by series version, resampled when the
timeframe is not stored), so submit-time validation warms the cache the worker then reads.
Their fingerprint is the bar codec's (backtesting.engine.barcodec.fingerprint_bars).
"""

from __future__ import annotations

from datetime import datetime

from backtesting.engine import BarSeries
from backtesting.marketdata.models import Instrument
from backtesting.marketdata.selectors import bars_load_arrays, series_source
from backtesting.marketdata.timeframes import Timeframe


def bars_for_backtest(
    *, symbols: list[str], timeframe: str, start: datetime, end: datetime
) -> dict[str, BarSeries]:
    """{symbol: BarSeries} with start <= timestamp <= end, in the order given."""
    return {symbol: bars_load_arrays(symbol, timeframe, start, end) for symbol in symbols}


def series_versions(*, symbols: list[str], timeframe: str) -> dict[str, int]:
    """{symbol: data version of the stored series serving `timeframe`}: bumped by every import."""
    out: dict[str, int] = {}
    for instrument in Instrument.objects.filter(symbol__in=symbols):
        source = series_source(instrument, Timeframe(timeframe))
        if source is not None:
            out[instrument.symbol] = source[1]
    return out


def symbols_without_data(
    *, symbols: list[str], timeframe: str, start: datetime, end: datetime
) -> list[str]:
    """Symbols with no bar in the range: a run on them could only fail."""
    bars = bars_for_backtest(symbols=symbols, timeframe=timeframe, start=start, end=end)
    return [symbol for symbol, arrays in bars.items() if len(arrays) == 0]
