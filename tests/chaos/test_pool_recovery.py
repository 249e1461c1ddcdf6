"""The pool on its own, against the private PostgreSQL: an outage longer than the pool's
reconnect_timeout, after which psycopg stops retrying (and calls reconnect_failed).

The outage test under gunicorn (test_database_outage.py) covers outages shorter than that.
Here the pool has given up: it must not stay broken, nor keep refusing requests because its
last attempt failed: the next request starts a new attempt and is served once PostgreSQL is
back.
"""

from __future__ import annotations

import logging
import time

import pytest
from psycopg_pool import ConnectionPool, PoolTimeout

from tradeplatform.postgres.pool import OutageAwareConnectionPool

pytestmark = pytest.mark.slow

RECONNECT_TIMEOUT = 2.0
RECOVERY_DEADLINE = 60.0


def test_a_pool_that_gave_up_reconnecting_serves_again_once_postgres_is_back(
    private_postgres, caplog
):
    pool = OutageAwareConnectionPool(
        private_postgres.url("postgres"),
        min_size=1,
        max_size=2,
        timeout=2.0,
        reconnect_timeout=RECONNECT_TIMEOUT,
        reconnect_max_delay=0.5,
        check=ConnectionPool.check_connection,
        open=True,
    )
    try:
        pool.wait(timeout=30)
        private_postgres.stop()
        with caplog.at_level(logging.ERROR, logger="tradeplatform.database"):
            with pytest.raises(PoolTimeout):
                pool.getconn()  # the idle connection is found broken; reconnection starts
            _wait_for(lambda: "stopped retrying" in caplog.text, "the pool to give up")
        with pytest.raises(PoolTimeout):
            pool.getconn()  # still down: refused, and a new attempt is under way
        private_postgres.start()
        _wait_for(lambda: _served(pool), "a connection once PostgreSQL is back")
    finally:
        pool.close()
        if not private_postgres.is_running():
            private_postgres.start()


def _served(pool: OutageAwareConnectionPool) -> bool:
    try:
        with pool.connection(timeout=2.0) as connection:
            return connection.execute("SELECT 1").fetchone() == (1,)
    except PoolTimeout:
        return False


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + RECOVERY_DEADLINE
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"waited {RECOVERY_DEADLINE} s for {what}")
