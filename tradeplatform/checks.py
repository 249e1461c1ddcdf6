"""System checks: `manage.py check --deploy` reports the same problems settings.py refuses."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

from tradeplatform.config_checks import ConfigSnapshot, find_configuration_problems


def current_config() -> ConfigSnapshot:
    return ConfigSnapshot(
        environment=settings.ENVIRONMENT,
        debug=settings.DEBUG,
        secret_key=settings.SECRET_KEY,
        allowed_hosts=tuple(settings.ALLOWED_HOSTS),
        database_url=settings.DATABASE_URL,
        redis_url=settings.REDIS_URL,
        broker_url=""
        if settings.CELERY_BROKER_URL.startswith("filesystem")
        else settings.CELERY_BROKER_URL,
        ratelimit_load_test_factor=settings.RATELIMIT_LOAD_TEST_FACTOR,
    )


@register(Tags.security, deploy=True)
def check_environment_configuration(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return [
        Error(problem.message, id=problem.check_id)
        for problem in find_configuration_problems(current_config())
    ]
