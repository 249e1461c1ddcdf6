"""The backtest API: happy paths, bad input, another user's backtest (404), anonymous (401)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.access import mark_otp_verified
from backtesting.models import Backtest, BacktestStatus
from tests.backtesting.conftest import execute_job
from tests.factories import StrategyFactory

URL = "/api/v1/backtests/"


def body(strategy_version: Any, **overrides: Any) -> dict[str, Any]:
    data = {
        "strategy": strategy_version.strategy_id,
        "instruments": ["aaa"],
        "timeframe": "1d",
        "start": "2015-01-01T00:00:00Z",
        "end": "2016-12-31T00:00:00Z",
        "parameters": {"fast": 5, "slow": 20},
        "settings": {"initial_cash": 10000, "costs": {"commission_pct": 0.001}},
    }
    data.update(overrides)
    return data


@pytest.fixture
def client_of():
    def make(user: Any) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


def test_post_answers_202_with_location_and_a_queued_row(
    owner_client, instrument, strategy_version
) -> None:
    response = owner_client.post(URL, body(strategy_version), format="json")
    assert response.status_code == 202, response.json()
    data = response.json()
    assert response["Location"] == f"{URL}{data['id']}/"
    assert data["status"] == "queued" and data["instruments"] == ["AAA"]
    assert Backtest.objects.get(pk=data["id"]).settings["costs"]["commission_pct"] == 0.001


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"instruments": ["ZZZ"]}, 400, "validation_error"),
        ({"start": "2017-01-01T00:00:00Z"}, 400, "validation_error"),
        ({"start": "2030-01-01T00:00:00Z", "end": "2031-01-01T00:00:00Z"}, 400, "validation_error"),
        ({"parameters": {"fast": 0}}, 400, "invalid_parameters"),
        ({"timeframe": "2d"}, 400, "validation_error"),
        ({"strategy": 999_999}, 404, "not_found"),
        ({"version": 7}, 404, "not_found"),
    ],
)
def test_post_rejects_bad_input(
    owner_client, instrument, strategy_version, overrides: dict, status: int, code: str
) -> None:
    response = owner_client.post(URL, body(strategy_version, **overrides), format="json")
    assert response.status_code == status, response.json()
    assert response.json()["error"]["code"] == code


def test_post_for_another_users_strategy_is_a_404(owner_client, instrument, other_user) -> None:
    foreign = StrategyFactory.create(owner=other_user).versions.get()
    response = owner_client.post(URL, body(foreign), format="json")
    assert response.status_code == 404


def test_post_over_quota_is_a_429_with_retry_after(
    owner_client, instrument, strategy_version
) -> None:
    for _ in range(2):
        assert owner_client.post(URL, body(strategy_version), format="json").status_code == 202
    response = owner_client.post(URL, body(strategy_version), format="json")
    assert response.status_code == 429 and response["Retry-After"]
    assert response.json()["error"]["code"] == "quota_exceeded"


def test_viewers_cannot_submit(client_of, viewer, instrument, strategy_version) -> None:
    assert client_of(viewer).post(URL, body(strategy_version), format="json").status_code == 403


def test_anonymous_gets_401(api_client) -> None:
    assert api_client.get(URL).status_code == 401
    assert api_client.post(URL, {}, format="json").status_code == 401


def test_list_shows_only_mine_and_filters(
    owner_client, submit, client_of, other_user, django_assert_num_queries
) -> None:
    mine = submit()
    done = execute_job(submit().pk)
    with django_assert_num_queries(2):
        data = owner_client.get(URL).json()
    assert [r["id"] for r in data["results"]] == [done.pk, mine.pk]
    assert [r["id"] for r in owner_client.get(URL, {"status": "queued"}).json()["results"]] == [
        mine.pk
    ]
    assert owner_client.get(URL, {"instrument": "aaa"}).json()["count"] == 2
    assert owner_client.get(URL, {"strategy": 999}).json()["count"] == 0
    assert client_of(other_user).get(URL).json()["count"] == 0


def test_detail_shows_metrics_and_provenance(owner_client, submit) -> None:
    done = execute_job(submit().pk)
    data = owner_client.get(f"{URL}{done.pk}/").json()
    assert data["status"] == "succeeded" and data["progress"] == 1.0
    assert data["metrics"]["n_trades"] >= 1
    assert data["provenance"]["data_fingerprint"] == done.data_fingerprint
    assert data["provenance"]["parameters"] == {"fast": 5, "slow": 20}


@pytest.mark.parametrize("suffix", ["", "equity/", "trades/", "cancel/", "rerun/"])
def test_another_users_backtest_is_a_404(client_of, other_user, submit, suffix: str) -> None:
    backtest = submit()
    client = client_of(other_user)
    method = client.post if suffix in ("cancel/", "rerun/") else client.get
    assert method(f"{URL}{backtest.pk}/{suffix}").status_code == 404
    assert client.delete(f"{URL}{backtest.pk}/").status_code == 404


def test_equity_and_paginated_trades(owner_client, submit) -> None:
    done = execute_job(submit().pk)
    equity = owner_client.get(f"{URL}{done.pk}/equity/").json()
    assert len(equity["equity"]) == len(equity["timestamps"]) == len(equity["drawdown"])
    trades = owner_client.get(f"{URL}{done.pk}/trades/").json()
    assert trades["count"] == done.trades.count()
    assert trades["results"][0]["seq"] == 1


def test_trades_export_as_csv(owner_client, submit) -> None:
    done = execute_job(submit().pk)
    response = owner_client.get(f"{URL}{done.pk}/trades/", {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    lines = b"".join(response.streaming_content).decode().strip().splitlines()
    assert lines[0].startswith("seq,symbol,direction,size,entry_time")
    assert len(lines) == done.trades.count() + 1
    assert lines[1].split(",")[1] == "AAA"


def test_cancel_queued_then_conflict(owner_client, submit) -> None:
    backtest = submit()
    response = owner_client.post(f"{URL}{backtest.pk}/cancel/")
    assert response.status_code == 202 and response.json()["status"] == "cancelled"
    assert owner_client.post(f"{URL}{backtest.pk}/cancel/").status_code == 409


def test_rerun_reports_whether_the_data_changed(owner_client, submit) -> None:
    done = execute_job(submit().pk)
    response = owner_client.post(f"{URL}{done.pk}/rerun/")
    assert response.status_code == 202
    data = response.json()
    assert data["rerun_of"] == done.pk and data["data_changed_since_original"] is False
    execute_job(data["id"])
    detail = owner_client.get(f"{URL}{data['id']}/").json()
    assert detail["same_data_as_original"] is True


def test_delete_removes_the_backtest_and_its_trades(owner_client, submit) -> None:
    done = execute_job(submit().pk)
    assert owner_client.delete(f"{URL}{done.pk}/").status_code == 204
    assert not Backtest.objects.filter(pk=done.pk).exists()


def test_dead_letters_are_operator_only(owner_client, client_of, operator) -> None:
    assert owner_client.get("/api/v1/dead-letters/").status_code == 403
    mark_otp_verified(operator)
    assert client_of(operator).get("/api/v1/dead-letters/").status_code == 200


def test_status_is_a_choice(owner_client) -> None:
    assert owner_client.get(URL, {"status": "bogus"}).status_code == 400
    assert BacktestStatus.QUEUED == "queued"


def test_a_viewer_cannot_delete_even_their_own_backtest(client_of, owner, submit) -> None:
    backtest = submit()
    owner.role = "viewer"
    owner.save(update_fields=["role"])
    assert client_of(owner).delete(f"{URL}{backtest.pk}/").status_code == 403
    assert Backtest.objects.filter(pk=backtest.pk).exists()
