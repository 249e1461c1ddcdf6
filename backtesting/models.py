"""Models of the backtesting app (market data lives in backtesting.marketdata.models)."""

from backtesting.marketdata.models import AssetClass, Bar, Instrument, SeriesVersion

__all__ = ["AssetClass", "Bar", "Instrument", "SeriesVersion"]
