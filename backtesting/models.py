"""Models of the backtesting app: backtest jobs with their results (backtesting.jobs.models),
re-exported for Django's app registry. Market data is its own app (backtesting.marketdata)."""

from backtesting.jobs.models import (
    Backtest,
    BacktestResult,
    DeadLetter,
    NotificationPreference,
    Trade,
    Webhook,
    WebhookDelivery,
)

__all__ = [
    "Backtest",
    "BacktestResult",
    "DeadLetter",
    "NotificationPreference",
    "Trade",
    "Webhook",
    "WebhookDelivery",
]
