"""Models of the backtesting app (market data lives in backtesting.marketdata.models)."""

from backtesting.marketdata.models import AssetClass, Bar, Instrument, SeriesVersion

# Backtest jobs and their results (backtesting/jobs/models.py).
from backtesting.jobs.models import (  # noqa: E402
    Backtest,
    DeadLetter,
    NotificationPreference,
    Trade,
    Webhook,
    WebhookDelivery,
)

__all__ = [
    "AssetClass",
    "Backtest",
    "Bar",
    "DeadLetter",
    "Instrument",
    "NotificationPreference",
    "SeriesVersion",
    "Trade",
    "Webhook",
    "WebhookDelivery",
]
