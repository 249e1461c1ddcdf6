"""A slow database and a slow data provider: the timeouts fire and the breaker opens and closes.

- Database: a table held under an exclusive lock (what a long migration or a stuck
  transaction does) makes every query on it wait. The web's statement timeout
  (DB_STATEMENT_TIMEOUT, 1 s here) cancels the query and the client gets the 503 envelope in
  about that time, instead of waiting until gunicorn kills the worker; other pages and /live
  keep answering; the lock released, the same request is served.
- Data provider: a loopback server that stalls longer than MARKETDATA_HTTP_TIMEOUT. Each
  `manage.py fetch_bars` is a process of its own, and the breaker's state lives in the shared
  cache: after MARKETDATA_BREAKER_FAIL_MAX timed-out calls the next process fails at once
  without calling the provider, gunicorn's /health shows the breaker open, and after
  MARKETDATA_BREAKER_RESET_TIMEOUT one trial call closes it and the bars are stored.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import psycopg
import pytest

from tests.chaos.conftest import ROOT, Server, Stack, wait_for
from tests.marketdata.fault_server import FaultServer, Reply

pytestmark = pytest.mark.slow

STATEMENT_TIMEOUT = 1.0
HTTP_TIMEOUT = 0.5
# Longer than a `manage.py` start on a loaded box, so the second process meets it open.
# Long enough that the refused call below (a fresh manage.py process, slow to start on a busy
# box) always comes before it; the test waits only for what is left of it.
RESET_TIMEOUT = 30.0
SLACK = 3.0  # a loaded 2-core CI box
STOOQ_CSV = (
    b"Date,Open,High,Low,Close,Volume\n"
    b"2024-01-02,186.06,187.33,181.81,184.08,82488674\n"
    b"2024-01-03,182.87,184.44,181.97,182.71,58414460\n"
)


@pytest.fixture(scope="module")
def provider() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


@pytest.fixture(scope="module")
def slow_env(provider: FaultServer) -> dict[str, str]:
    return {
        "DB_STATEMENT_TIMEOUT": str(STATEMENT_TIMEOUT),
        "MARKETDATA_STOOQ_BASE_URL": provider.url,
        "MARKETDATA_HTTP_TIMEOUT": str(HTTP_TIMEOUT),
        "MARKETDATA_HTTP_ATTEMPTS": "2",
        "MARKETDATA_HTTP_BACKOFF_INITIAL": "0.05",
        "MARKETDATA_BREAKER_FAIL_MAX": "2",
        "MARKETDATA_BREAKER_RESET_TIMEOUT": str(RESET_TIMEOUT),
    }


@pytest.fixture(scope="module")
def server(stack: Stack, slow_env: dict[str, str]) -> Server:
    return stack.start_server(workers=1, env=slow_env)


@pytest.fixture
def strategies_locked(stack: Stack) -> Iterator[None]:
    with psycopg.connect(stack.postgres.url(stack.database)) as connection:
        connection.execute("LOCK TABLE strategies_strategy IN ACCESS EXCLUSIVE MODE")
        yield
        connection.rollback()


def test_a_query_stuck_behind_a_lock_is_cancelled_into_a_503_while_the_rest_serves(
    server, strategies_locked
):
    answer = server.api("GET", "/api/v1/strategies/")
    assert answer.status == 503, answer.text
    error = answer.json()["error"]
    assert error["code"] == "dependency_unavailable" and "Traceback" not in answer.text
    assert int(answer.headers["Retry-After"]) > 0
    assert answer.seconds < STATEMENT_TIMEOUT + SLACK, answer.seconds
    assert server.get("/live").status == 200
    assert server.get("/ready").status == 200  # the database itself answers
    assert "statement timeout" in server.log()  # logged once, as the cause


def test_once_the_lock_is_gone_the_same_request_is_served(server):
    answer = server.api("GET", "/api/v1/strategies/")
    assert answer.status == 200, answer.text


def fetch_bars(stack: Stack, slow_env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "manage.py", "fetch_bars", "aapl", "--source", "stooq",
         "--start", "2024-01-01", "--end", "2024-01-05"],
        cwd=ROOT, env={**stack.env, **slow_env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return done, time.monotonic() - started


def breaker_state(server: Server) -> str:
    return str(server.get("/health").json()["checks"]["marketdata_provider_stooq"]["state"])


def test_a_slow_provider_times_out_opens_the_breaker_for_every_process_then_closes(
    stack, server, provider, slow_env
):
    provider.replay(*[Reply(200, STOOQ_CSV, delay=HTTP_TIMEOUT * 4)] * 2)
    failed, _ = fetch_bars(stack, slow_env)
    assert failed.returncode != 0
    assert len(provider.requests) == 2  # both attempts sent, both timed out
    assert breaker_state(server) == "open"  # seen by another process, through the cache
    opened = time.monotonic()

    provider.replay(Reply(200, STOOQ_CSV))
    refused, _ = fetch_bars(stack, slow_env)
    # Refused without a call: had the reset passed, the trial call would have reached the
    # provider (a third request) and succeeded, so these prove the breaker was still open.
    assert refused.returncode != 0 and len(provider.requests) == 2  # never called
    # The open breaker's own message (ProviderUnavailableError), not a timeout's.
    assert "calls are paused" in (refused.stdout + refused.stderr)

    wait_for(lambda: time.monotonic() - opened > RESET_TIMEOUT, RESET_TIMEOUT, "the reset")
    served, _ = fetch_bars(stack, slow_env)
    assert served.returncode == 0, served.stdout + served.stderr
    assert "inserted 2" in served.stdout
    assert len(provider.requests) == 3  # the one trial call
    assert breaker_state(server) == "closed"
    bars = stack.query(
        "SELECT count(*) FROM marketdata_bar b JOIN marketdata_instrument i"
        " ON i.id = b.instrument_id WHERE i.symbol = 'AAPL'"
    )
    assert bars == [(2,)]
