"""psycopg's ConnectionPool, made to fail fast during a database outage and recover in seconds.

Two behaviours of the stock pool hurt a web server when PostgreSQL goes away:

- Its reconnection attempts back off exponentially (1, 2, 4 ... 128 s) until
  `reconnect_timeout`. After a 2-4 minute outage the next attempt could be one or two
  minutes away, and while a growing attempt waits for its turn, requests cannot start
  another one: a process kept failing for up to 3.5 min after the server came back. Here
  the delay between attempts is capped (`reconnect_max_delay`, a couple of seconds).
- A request with no idle connection waits the whole pool timeout for a connection that
  cannot come, holding a web thread meanwhile; enough of them and even /live queues behind
  them. Here (`fail_fast`), while the last connection attempt failed less than a
  reconnection delay ago and no idle connection is left, a request gets
  `DatabaseUnreachable` at once. Each failed reconnection attempt renews that window and the
  first success closes it, so once the server is back requests flow again after at most
  one reconnection delay.

It overrides three private methods of psycopg_pool (pinned in requirements.txt);
tests/chaos/test_pool_recovery.py checks the behaviour against a real server.
"""

from __future__ import annotations

import logging
from time import monotonic
from typing import Any

from psycopg import Connection
from psycopg_pool import ConnectionPool, PoolTimeout
from psycopg_pool.base import AttemptWithBackoff, BasePool

logger = logging.getLogger("tradeplatform.database")
OUTAGE_LOG_INTERVAL_SECONDS = 60.0


class _DropConnectAttemptErrors(logging.Filter):
    """psycopg logs a warning per failed attempt; the pool below logs the outage itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("error connecting in")


logging.getLogger("psycopg.pool").addFilter(_DropConnectAttemptErrors())


class DatabaseUnreachable(PoolTimeout):
    """The last connection attempt failed moments ago and no idle connection is left."""


class CappedBackoff(AttemptWithBackoff):
    """The pool's exponential backoff, but never longer than `max_delay` (with jitter)."""

    def __init__(self, *, timeout: float, max_delay: float) -> None:
        super().__init__(timeout=timeout)
        self.max_delay = max_delay

    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        if self.delay > self.max_delay:
            # Jitter keeps the processes of a fleet from reconnecting in lockstep.
            self.delay = BasePool._jitter(self.max_delay, -0.2, 0.0)


class OutageAwareConnectionPool(ConnectionPool[Connection[Any]]):
    def __init__(
        self,
        *args: Any,
        reconnect_max_delay: float = 2.0,
        fail_fast: bool = True,
        **kwargs: Any,
    ) -> None:
        self.reconnect_max_delay = reconnect_max_delay
        # Longer than the gap between two attempts, so the window stays open while they fail.
        self.fail_fast_window = reconnect_max_delay + 1.0 if fail_fast else 0.0
        self._last_connect_failure: float | None = None
        self._outage_started: float | None = None
        self._outage_logged = 0.0
        kwargs.setdefault("reconnect_failed", _log_reconnect_given_up)
        super().__init__(*args, **kwargs)

    def database_unreachable(self) -> bool:
        failed_at = self._last_connect_failure
        return (
            failed_at is not None
            and monotonic() - failed_at < self.fail_fast_window
            and not self._pool  # an idle connection may still work: let the check decide
        )

    def _getconn_unchecked(self, timeout: float) -> Connection[Any]:
        if self.database_unreachable():
            raise DatabaseUnreachable(
                "the database is unreachable (last connection attempt failed)"
            )
        return super()._getconn_unchecked(timeout)

    def _connect(self, timeout: float | None = None) -> Connection[Any]:
        try:
            connection = super()._connect(timeout)
        except Exception as exc:
            self._note_connect_failure(exc)
            raise
        if self._outage_started is not None:
            logger.info("database reachable again after %.0f s", monotonic() - self._outage_started)
            self._outage_started = self._last_connect_failure = None
        return connection

    def _note_connect_failure(self, exc: Exception) -> None:
        # One line when the outage starts and one a minute while it lasts, instead of psycopg's
        # line per attempt (_DropConnectAttemptErrors): each lost connection retries every 2 s.
        now = monotonic()
        if self._outage_started is None:
            self._outage_started = self._outage_logged = now
            logger.warning("database unreachable: %s", str(exc).strip()[:300])
        elif now - self._outage_logged >= OUTAGE_LOG_INTERVAL_SECONDS:
            self._outage_logged = now
            logger.warning("database still unreachable after %.0f s", now - self._outage_started)
        self._last_connect_failure = now

    def _add_connection(self, attempt: AttemptWithBackoff | None, growing: bool = False) -> None:
        if attempt is None:
            attempt = CappedBackoff(
                timeout=self.reconnect_timeout, max_delay=self.reconnect_max_delay
            )
        super()._add_connection(attempt, growing=growing)


def _log_reconnect_given_up(pool: ConnectionPool[Any]) -> None:
    # Not fatal: the next request that needs a connection starts a new attempt.
    logger.error("database pool stopped retrying a connection after %.0f s", pool.reconnect_timeout)
