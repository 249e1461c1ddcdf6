"""Configuration rules shared by settings.py (refuse to start) and the system checks.

Kept free of Django imports so settings.py can call it before Django is configured.
"""

from __future__ import annotations

from dataclasses import dataclass

ENVIRONMENTS = ("dev", "test", "staging", "prod")
STRICT_ENVIRONMENTS = ("staging", "prod")

# Keys that ship in examples or docs; running production on one of them is as bad as none.
KNOWN_PLACEHOLDER_SECRETS = frozenset(
    {
        "",
        "change-me",
        "changeme",
        "secret",
        "dev-insecure-secret-key",
        "replace-with-a-long-random-string",
    }
)
MIN_SECRET_KEY_LENGTH = 50


@dataclass(frozen=True)
class ConfigProblem:
    check_id: str
    message: str


@dataclass(frozen=True)
class ConfigSnapshot:
    environment: str
    debug: bool
    secret_key: str
    allowed_hosts: tuple[str, ...]
    database_url: str
    redis_url: str
    broker_url: str
    ratelimit_load_test_factor: int = 1


def find_configuration_problems(config: ConfigSnapshot) -> list[ConfigProblem]:
    """Return every problem that makes `config` unfit for its environment.

    dev and test accept anything; staging and prod must be explicit about every
    secret, host and service, because the embedded defaults are not safe to share.
    """
    if config.environment not in ENVIRONMENTS:
        return [
            ConfigProblem(
                "tradeplatform.E001",
                f"DJANGO_ENV={config.environment!r} is unknown; "
                f"use one of {', '.join(ENVIRONMENTS)}.",
            )
        ]
    load_factor = _load_factor_problem(config)
    if config.environment not in STRICT_ENVIRONMENTS:
        return [load_factor] if load_factor else []
    return [
        problem
        for problem in (
            load_factor,
            _debug_problem(config),
            _secret_key_problem(config),
            _allowed_hosts_problem(config),
            *_missing_url_problems(config),
        )
        if problem is not None
    ]


def _debug_problem(config: ConfigSnapshot) -> ConfigProblem | None:
    if config.debug:
        return ConfigProblem(
            "tradeplatform.E002",
            f"DEBUG is on in {config.environment}; it leaks tracebacks and settings. Unset DEBUG.",
        )
    return None


def _load_factor_problem(config: ConfigSnapshot) -> ConfigProblem | None:
    factor = config.ratelimit_load_test_factor
    if factor < 1:
        return ConfigProblem(
            "tradeplatform.E010",
            f"RATELIMIT_LOAD_TEST_FACTOR={factor} is invalid; it multiplies the rate limits "
            "and must be at least 1.",
        )
    if factor != 1 and config.environment == "prod":
        # Staging is where load runs happen; in prod the factor would switch off the
        # protection against credential guessing and scraping.
        return ConfigProblem(
            "tradeplatform.E011",
            f"RATELIMIT_LOAD_TEST_FACTOR={factor} raises the rate limits for load runs and is "
            "refused in prod; unset it.",
        )
    return None


def _secret_key_problem(config: ConfigSnapshot) -> ConfigProblem | None:
    key = config.secret_key
    if key.strip().lower() in KNOWN_PLACEHOLDER_SECRETS or key.startswith("django-insecure"):
        return ConfigProblem(
            "tradeplatform.E003",
            "SECRET_KEY is missing or a known default; set a long random value in the environment.",
        )
    if len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) < 5:
        return ConfigProblem(
            "tradeplatform.E004",
            f"SECRET_KEY is too weak; use at least {MIN_SECRET_KEY_LENGTH} random characters.",
        )
    return None


def _allowed_hosts_problem(config: ConfigSnapshot) -> ConfigProblem | None:
    if not config.allowed_hosts:
        return ConfigProblem(
            "tradeplatform.E005",
            "ALLOWED_HOSTS is empty; list the host names this deployment answers to.",
        )
    if "*" in config.allowed_hosts:
        return ConfigProblem(
            "tradeplatform.E006",
            "ALLOWED_HOSTS contains '*'; list the real host names instead.",
        )
    return None


def _missing_url_problems(config: ConfigSnapshot) -> list[ConfigProblem | None]:
    required = {
        "DATABASE_URL": (config.database_url, "tradeplatform.E007"),
        "REDIS_URL": (config.redis_url, "tradeplatform.E008"),
        "CELERY_BROKER_URL (or REDIS_URL)": (config.broker_url, "tradeplatform.E009"),
    }
    return [
        ConfigProblem(check_id, f"{name} is not set; {config.environment} needs a real server.")
        for name, (value, check_id) in required.items()
        if not value
    ]


def format_problems(environment: str, problems: list[ConfigProblem]) -> str:
    lines = [f"Refusing to start: the {environment} configuration has {len(problems)} problem(s):"]
    lines += [f"  - [{p.check_id}] {p.message}" for p in problems]
    return "\n".join(lines)
