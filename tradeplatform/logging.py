"""JSON logging for the web processes and the Celery workers alike.

One JSON object per line: timestamp, level, logger, message, request_id, user_id and
whatever `extra=` fields the caller passed. settings.LOGGING is `build_logging_config()`,
applied by Django's own `django.setup()` in web and worker processes alike: importing the
settings configures nothing and creates no directory.
"""

from __future__ import annotations

import logging
import logging.handlers
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from tradeplatform.request_context import request_id_var, user_id_var


class RequestContextFilter(logging.Filter):
    """Stamp the current request id and user id on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        if not hasattr(record, "user_id"):
            record.user_id = user_id_var.get()
        return True


class TradePlatformJsonFormatter(JsonFormatter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "rename_fields", {"asctime": "timestamp", "levelname": "level", "name": "logger"}
        )
        kwargs.setdefault("timestamp", False)
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(user_id)s",
            *args,
            **kwargs,
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        # ISO 8601 in UTC with milliseconds, whatever the host's time zone.
        seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{seconds}.{int(record.msecs):03d}Z"


class LogFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log file whose directory is made when logging is configured, not before."""

    def __init__(self, filename: str, *args: Any, **kwargs: Any) -> None:
        Path(filename).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(filename, *args, **kwargs)


def build_logging_config(
    *, level: str, log_dir: Path | None, max_bytes: int, backups: int
) -> dict[str, Any]:
    handlers: dict[str, dict[str, Any]] = {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_context"],
        }
    }
    if log_dir is not None:
        for name, filename, handler_level in (
            ("file", "app.log", level),
            ("errors", "error.log", "ERROR"),
        ):
            handlers[name] = {
                "class": "tradeplatform.logging.LogFileHandler",
                "filename": str(log_dir / filename),
                "maxBytes": max_bytes,
                "backupCount": backups,
                "encoding": "utf-8",
                "level": handler_level,
                "formatter": "json",
                "filters": ["request_context"],
            }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_context": {"()": "tradeplatform.logging.RequestContextFilter"}},
        "formatters": {"json": {"()": "tradeplatform.logging.TradePlatformJsonFormatter"}},
        "handlers": handlers,
        "root": {"level": level, "handlers": list(handlers)},
        "loggers": {
            # Django applies its DEFAULT_LOGGING first: these two undo it, so Django's records
            # reach the JSON root handlers only (no plain-text copy, no mail to ADMINS).
            "django": {"level": "NOTSET", "handlers": [], "propagate": True},
            # Our access log replaces these; keeping both would log every request twice.
            "django.server": {"level": "WARNING", "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "WARNING"},
            # Django logs handled 4xx as warnings through django.request; keep server errors.
            "django.request": {"level": "ERROR"},
        },
    }


@contextmanager
def log_if_slow(
    operation: str, *, threshold_ms: int | None = None, **fields: Any
) -> Iterator[None]:
    """Log `operation` with its duration; at warning level when it exceeds the threshold."""
    from django.conf import settings

    limit = threshold_ms if threshold_ms is not None else settings.SLOW_OPERATION_MS
    started = time.perf_counter()
    try:
        yield
    finally:
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        slow = duration_ms > limit
        logging.getLogger("tradeplatform.performance").log(
            logging.WARNING if slow else logging.DEBUG,
            "slow operation" if slow else "operation finished",
            extra={"operation": operation, "duration_ms": duration_ms, "slow": slow, **fields},
        )
