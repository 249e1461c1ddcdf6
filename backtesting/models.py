"""Models of the backtesting app: backtest jobs with their results (backtesting.jobs.models),
re-exported for Django's app registry. Market data is its own app (backtesting.marketdata)."""

from backtesting.jobs.models import (
    Backtest,
    DeadLetter,
    NotificationPreference,
    Trade,
    Webhook,
    WebhookDelivery,
)

__all__ = [
    "Backtest",
    "DeadLetter",
    "NotificationPreference",
    "Trade",
    "Webhook",
    "WebhookDelivery",
]
