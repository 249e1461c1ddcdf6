"""Models of the backtesting app: market data (backtesting.marketdata.models) and backtest
jobs with their results (backtesting.jobs.models), re-exported for Django's app registry."""

from backtesting.jobs.models import (
    Backtest,
    DeadLetter,
    NotificationPreference,
    Trade,
    Webhook,
    WebhookDelivery,
)
from backtesting.marketdata.models import AssetClass, Bar, Instrument, SeriesVersion

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
