"""The Stooq provider's retries, backoff and circuit breaker, against a local fault server."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.management import call_command

from backtesting.marketdata.errors import (
    ProviderDataError,
    ProviderUnavailableError,
    TransientProviderError,
)
from backtesting.marketdata.models import Bar
from backtesting.marketdata.providers.breaker import breaker_status
from backtesting.marketdata.providers.stooq import StooqProvider
from backtesting.marketdata.services import bars_fetch
from tests.marketdata.fault_server import FaultServer, Reply

pytestmark = pytest.mark.django_db

# Recorded from Stooq's CSV endpoint (AAPL.US, first days of 2024).
STOOQ_CSV = (
    b"Date,Open,High,Low,Close,Volume\n"
    b"2024-01-02,186.06,187.33,181.81,184.08,82488674\n"
    b"2024-01-03,182.87,184.44,181.97,182.71,58414460\n"
    b"2024-01-04,180.66,181.43,179.3,180.38,71983570\n"
)
START, END = date(2024, 1, 1), date(2024, 1, 5)


@pytest.fixture
def server(settings):
    with FaultServer() as fault_server:
        settings.MARKETDATA_STOOQ_BASE_URL = fault_server.url
        settings.MARKETDATA_HTTP_TIMEOUT = 0.3
        settings.MARKETDATA_HTTP_ATTEMPTS = 3
        settings.MARKETDATA_BREAKER_FAIL_MAX = 3
        settings.MARKETDATA_BREAKER_RESET_TIMEOUT = 60
        yield fault_server


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def provider(server, waits) -> StooqProvider:
    return StooqProvider(sleep=waits.append)  # record the backoff instead of sleeping it


def test_a_good_answer_is_imported_as_daily_bars(server, provider, instrument):
    server.replay(Reply(200, STOOQ_CSV))
    report = bars_fetch(instrument=instrument, provider=provider, start=START, end=END)
    assert report.counts.inserted == 3
    assert Bar.objects.filter(instrument=instrument, timeframe="1d").count() == 3
    assert server.requests == ["/q/d/l/?s=aapl.us&d1=20240101&d2=20240105&i=d"]


def test_a_server_error_is_retried_with_growing_jittered_backoff(server, provider, waits):
    server.replay(Reply(500), Reply(503), Reply(200, STOOQ_CSV))
    assert provider.daily_bars_csv("AAPL.US", START, END) == STOOQ_CSV
    assert len(server.requests) == 3
    assert len(waits) == 2 and waits[0] > 0 and all(w <= 30 for w in waits)


def test_429_waits_what_retry_after_asks(server, provider, waits):
    server.replay(Reply(429, headers={"Retry-After": "7"}), Reply(200, STOOQ_CSV))
    provider.daily_bars_csv("AAPL.US", START, END)
    assert waits == [7.0]


def test_a_timeout_is_retried(server, provider):
    server.replay(Reply(200, STOOQ_CSV, delay=1.0), Reply(200, STOOQ_CSV))
    assert provider.daily_bars_csv("AAPL.US", START, END) == STOOQ_CSV
    assert len(server.requests) == 2


def test_a_malformed_payload_is_not_retried(server, provider):
    server.replay(
        Reply(200, b"<html>Service temporarily unavailable</html>"), Reply(200, STOOQ_CSV)
    )
    with pytest.raises(ProviderDataError):
        provider.daily_bars_csv("AAPL.US", START, END)
    assert len(server.requests) == 1


def test_a_client_error_is_not_retried(server, provider):
    server.replay(Reply(404, b"not found"))
    with pytest.raises(ProviderDataError):
        provider.daily_bars_csv("AAPL.US", START, END)
    assert len(server.requests) == 1


def test_a_csv_that_breaks_the_import_rules_writes_nothing(server, provider, instrument):
    from backtesting.marketdata.errors import BarImportError

    server.replay(Reply(200, STOOQ_CSV.replace(b"181.97", b"190.00")))  # low above open
    with pytest.raises(BarImportError):
        bars_fetch(instrument=instrument, provider=provider, start=START, end=END)
    assert not Bar.objects.exists()


def test_repeated_failures_open_the_breaker_which_then_fails_fast_and_shows_in_health(
    server, provider, client
):
    server.replay(*[Reply(500)] * 3)
    with pytest.raises((TransientProviderError, ProviderUnavailableError)):
        provider.daily_bars_csv("AAPL.US", START, END)
    assert len(server.requests) == 3
    assert breaker_status("stooq")["state"] == "open"

    server.replay(Reply(200, STOOQ_CSV))
    with pytest.raises(ProviderUnavailableError):
        StooqProvider(sleep=lambda s: None).daily_bars_csv("AAPL.US", START, END)
    assert len(server.requests) == 3  # the open breaker never called the server

    check = client.get("/health").json()["checks"]["marketdata_provider_stooq"]
    assert check["status"] == "down" and check["state"] == "open" and check["critical"] is False


def test_the_breaker_closes_again_after_a_successful_trial_call(server, provider, settings):
    server.replay(*[Reply(500)] * 3)
    with pytest.raises((TransientProviderError, ProviderUnavailableError)):
        provider.daily_bars_csv("AAPL.US", START, END)
    settings.MARKETDATA_BREAKER_RESET_TIMEOUT = 0
    server.replay(Reply(200, STOOQ_CSV))
    fresh = StooqProvider(sleep=lambda s: None)
    assert fresh.daily_bars_csv("AAPL.US", START, END) == STOOQ_CSV
    assert breaker_status("stooq")["state"] == "closed"


def test_fetch_bars_command_imports_from_the_provider(server, capsys):
    server.replay(Reply(200, STOOQ_CSV))
    call_command(
        "fetch_bars", "aapl", "--source", "stooq", "--start", "2024-01-01", "--end", "2024-01-05"
    )
    assert "inserted 3" in capsys.readouterr().out
    assert Bar.objects.filter(instrument__symbol="AAPL").count() == 3
