"""Which exceptions mean "the database cannot be reached right now" (a 503, not our bug)."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from django.db import InterfaceError as DjangoInterfaceError
from psycopg_pool import PoolTimeout

logger = logging.getLogger("tradeplatform.database")

DATABASE_UNAVAILABLE_CODE = "dependency_unavailable"
DATABASE_UNAVAILABLE_MESSAGE = "The database is unavailable; try again in a few seconds."
# The pool retries every DB_POOL_RECONNECT_MAX_DELAY (2 s): a client back in 5 s is likely served.
RETRY_AFTER_SECONDS = 5

# Sessions the server refuses or ends: shutting down (57P01/02), starting up (57P03), full
# (53300). Class 08 is "connection exception". A statement cancelled by DB_STATEMENT_TIMEOUT
# (57014) means the database is too slow to answer now: also a 503, never a 500. Anything else
# (a lock timeout, a serialization failure, a constraint) is about the query itself.
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300", "57014"})


def is_database_unavailable(exc: BaseException) -> bool:
    """True when `exc`, or an exception it was raised from, says the database is unreachable.

    Django wraps psycopg's errors (`raise django.db.OperationalError(...) from psycopg_error`),
    so the causes are walked: a pool timeout, a refused or dropped connection, a closed one.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _says_unreachable(current):
            return True
        current = current.__cause__
    return False


def _says_unreachable(exc: BaseException) -> bool:
    if isinstance(exc, (PoolTimeout, psycopg.InterfaceError, DjangoInterfaceError)):
        return True
    if isinstance(exc, psycopg.OperationalError):
        # No SQLSTATE: libpq's own failure (refused, reset, timed out), no server answer.
        sqlstate = exc.sqlstate
        return sqlstate is None or sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES
    return False


def log_database_unavailable(exc: BaseException, request: Any) -> None:
    # One warning line per refused request, no traceback: an outage is not a bug to debug,
    # and a traceback per request would bury everything else in the error log.
    logger.warning(
        "database unavailable; answered 503",
        extra={
            "event": "database_unavailable",
            "path": getattr(request, "path", None),
            "method": getattr(request, "method", None),
            "exception_type": type(exc).__name__,
            "error": str(exc)[:300],
        },
    )
