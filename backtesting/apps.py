from typing import Any

from django.apps import AppConfig
from django.conf import settings


def sandbox_health() -> dict[str, Any]:
    """Which isolation the strategy sandbox has on this host (rlimits alone is not enough
    for staging/prod, where untrusted code must also be jailed)."""
    from backtesting.sandbox import isolation_level

    level = isolation_level()
    return {"isolation": level, "ok": level != "rlimits" or not settings.IS_STRICT}


class BacktestingConfig(AppConfig):
    name = "backtesting"
    verbose_name = "Backtesting"

    def ready(self) -> None:
        from tradeplatform.apps import register_health_check

        register_health_check("sandbox", sandbox_health, critical=True)
