"""Publishing a job's message when the broker cannot take it (backtesting/jobs/lifecycle.py).

The row is committed before the publish; a broker error must leave it `queued` for the
recovery sweep and answer the client normally, and a breaker stops each request from
waiting on the dead broker once it failed BROKER_PUBLISH_BREAKER_FAIL_MAX times.
"""

from __future__ import annotations

from unittest import mock

import pytest
from kombu.exceptions import OperationalError as BrokerOperationalError

from backtesting.jobs import lifecycle
from backtesting.models import Backtest, BacktestStatus

URL = "/api/v1/backtests/"


@pytest.fixture
def fresh_breaker(settings, monkeypatch):
    settings.BROKER_PUBLISH_BREAKER_FAIL_MAX = 2
    settings.BROKER_PUBLISH_BREAKER_RESET_TIMEOUT = 60
    monkeypatch.setattr(lifecycle, "_publish_breaker", None)


@pytest.fixture
def broker_down():
    refused = BrokerOperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    with mock.patch.object(lifecycle, "_send", side_effect=refused) as send:
        yield send


def submit(client, strategy_version) -> dict:
    body = {
        "strategy": strategy_version.strategy_id,
        "instruments": ["AAA"],
        "timeframe": "1d",
        "start": "2015-01-01T00:00:00Z",
        "end": "2016-12-31T00:00:00Z",
    }
    response = client.post(URL, body, format="json")
    assert response.status_code == 202, response.json()
    return response.json()


@pytest.mark.django_db(transaction=True)  # the publish runs on commit
def test_a_backtest_submitted_while_the_broker_is_down_is_accepted_and_left_queued(
    owner_client, strategy_version, instrument, fresh_breaker, broker_down, caplog
):
    created = submit(owner_client, strategy_version)
    row = Backtest.objects.get(pk=created["id"])
    assert row.status == BacktestStatus.QUEUED  # the recovery sweep will publish it
    assert broker_down.call_count == 1
    assert "the recovery sweep will publish it" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_after_fail_max_broker_errors_publishing_stops_trying_until_the_reset(
    owner_client, strategy_version, instrument, fresh_breaker, broker_down, settings
):
    settings.QUOTAS = {**settings.QUOTAS, "trader": {**settings.QUOTAS["trader"],
                                                     "concurrent_backtests": None}}  # fmt: skip
    for _ in range(4):
        submit(owner_client, strategy_version)
    assert broker_down.call_count == 2  # the breaker opened; two jobs never waited on it
    assert Backtest.objects.filter(status=BacktestStatus.QUEUED).count() == 4

    broker_down.side_effect = None  # the broker is back
    lifecycle.publish_breaker().half_open()  # what the reset timeout does
    submit(owner_client, strategy_version)
    assert broker_down.call_count == 3
    assert lifecycle.publish_breaker().current_state == "closed"
