from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.apps import AppConfig

HealthProbe = Callable[[], dict[str, Any]]
_health_checks: list[tuple[str, bool, HealthProbe]] = []


def register_health_check(name: str, probe: HealthProbe, *, critical: bool = False) -> None:
    """Let an app add a dependency to /health (e.g. a circuit breaker, sandbox isolation)."""
    if all(existing != name for existing, _, _ in _health_checks):
        _health_checks.append((name, critical, probe))


def registered_health_checks() -> list[tuple[str, bool, HealthProbe]]:
    return list(_health_checks)


class TradePlatformConfig(AppConfig):
    name = "tradeplatform"
    verbose_name = "tradeplatform core"

    def ready(self) -> None:
        from tradeplatform import checks  # noqa: F401 - registers the system checks
        from tradeplatform.celery import ensure_broker_folders

        ensure_broker_folders()
