"""The market-data app: instruments, bars, series versions, their imports and providers."""

from functools import partial

from django.apps import AppConfig


class MarketdataConfig(AppConfig):
    # The package stays inside backtesting/ (its engine reads the same BarSeries); the label
    # is what the admin, migrations and content types see.
    name = "backtesting.marketdata"
    label = "marketdata"
    verbose_name = "Market data"

    def ready(self) -> None:
        from backtesting.marketdata.providers import PROVIDERS
        from backtesting.marketdata.providers.breaker import breaker_status
        from tradeplatform.apps import register_health_check

        # Not critical: an open breaker degrades fetching new bars, nothing else.
        for name in PROVIDERS:
            register_health_check(f"marketdata_provider_{name}", partial(breaker_status, name))
