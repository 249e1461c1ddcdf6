"""Admin for the backtesting app; market data has its own (backtesting.marketdata.admin)."""

# Backtest jobs, dead letters and webhooks register their own admin classes.
from backtesting.jobs import admin as _jobs_admin  # noqa: F401
