"""The whole API, fuzzed from its OpenAPI schema over HTTP against a real gunicorn, as a
trader and anonymously: no 5xx, and every response (error envelopes, 401 with
WWW-Authenticate, 405 with Allow included) as the schema declares.

Bounded here (FUZZ_SECONDS, default 50, for all passes); `make fuzz` runs it for longer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accounts.tokens import tokens_issue
from backtesting.models import Webhook
from backtesting.services import backtest_submit
from strategies.services import strategy_update
from tests.backtesting.conftest import execute_job, make_input, seed_bars
from tests.factories import StrategyFactory, TraderFactory
from tests.fuzz.schema_fuzz import (
    SeededIds,
    fuzz_report,
    fuzz_seconds_from_env,
    fuzz_seed_from_env,
    schema_fuzz,
)
from tests.tradeplatform.gunicorn_server import (
    Gunicorn,
    gunicorn_start,
    gunicorn_stop,
    session_database_url,
)

# The server's rows must be visible to gunicorn: committed, then flushed after the test.
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
SUITE_SECONDS = 50


@pytest.fixture
def seeded() -> tuple[str, SeededIds]:
    """A trader's token, a strategy with two versions, bars, a finished backtest, a webhook."""
    trader: Any = TraderFactory(username="fuzz-trader")
    seed_bars("AAA", n=120)
    strategy: Any = StrategyFactory(owner=trader)
    strategy_update(strategy=strategy, user=trader, code=strategy.versions.get().code + "\n")
    version = strategy.latest_version()
    finished = execute_job(backtest_submit(owner=trader, data=make_input(version)).pk)
    webhook = Webhook.objects.create(owner=trader, url="https://93.184.216.34/hook")
    token = tokens_issue(trader, otp_verified=False)["access"]
    return token, SeededIds(backtest=finished.pk, webhook=webhook.pk, symbol="AAA")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Gunicorn]:
    if not session_database_url():  # CI always has PostgreSQL (REQUIRE_SERVICES=1)
        pytest.skip("the server shares the test database only on PostgreSQL")
    minutes = fuzz_seconds_from_env(SUITE_SECONDS) // 60 + 15  # the token outlives the run
    started = gunicorn_start(
        tmp_path,
        env={
            "RATELIMIT_ENABLE": "false",  # thousands of requests from one address by design
            "JWT_ACCESS_MINUTES": str(minutes),
        },
    )
    yield started
    gunicorn_stop(started)


def test_the_fuzzed_api_answers_every_request_as_its_schema_says(server, seeded, tmp_path):
    token, ids = seeded
    budget = fuzz_seconds_from_env(SUITE_SECONDS)
    seed = fuzz_seed_from_env()
    outcomes = schema_fuzz(
        server.url(""), tmp_path, token=token, seeded=ids, budget=budget, seed=seed
    )
    print(f"\n{fuzz_report(outcomes)}\nseed: {seed}")  # noqa: T201 - the figures, shown with -s
    for outcome in outcomes:
        assert outcome.cases > 0, outcome.output[-3000:]  # a run that tried nothing proves nothing
        assert outcome.returncode == 0, (
            f"{outcome.summary()}; reproduce with FUZZ_SEED={seed}\n{outcome.output[-15000:]}"
        )
    assert "Traceback" not in server.log(), server.log()[-5000:]
