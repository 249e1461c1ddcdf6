from django.apps import AppConfig


class BacktestingConfig(AppConfig):
    name = "backtesting"
    verbose_name = "Backtesting"

    def ready(self) -> None:
        from backtesting.marketdata.providers import PROVIDERS
        from backtesting.marketdata.providers.breaker import breaker_status
        from tradeplatform.apps import register_health_check

        # Not critical: an open breaker degrades fetching new bars, nothing else.
        for name in PROVIDERS:
            register_health_check(
                f"marketdata_provider_{name}", lambda name=name: breaker_status(name)
            )
