"""The walk-forward API: create (202 + Location), list, detail with windows and summary, cancel;
owner only (others 404), anonymous 401, read-only role 403, bad input 400 naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from backtesting.jobs.fields import JobStatus
from backtesting.walkforward.execution import walkforward_execute
from backtesting.walkforward.models import WalkForward

pytestmark = pytest.mark.django_db


def _body(strategy_version: Any, **overrides: Any) -> dict[str, Any]:
    body = {
        "strategy": strategy_version.strategy_id,
        "instruments": ["aaa"],
        "timeframe": "1d",
        "start": "2015-01-01T00:00:00Z",
        "end": "2015-04-30T00:00:00Z",
        "space": {"parameters": {"fast": {"min": 3, "max": 5, "step": 2}}},
        "parameters": {"slow": 10},
        "objective": "total_return",
        "in_sample_bars": 60,
        "out_of_sample_bars": 30,
    }
    body.update(overrides)
    return body


def _create(client: APIClient, strategy_version: Any, **overrides: Any) -> Any:
    return client.post("/api/v1/walkforwards/", _body(strategy_version, **overrides), format="json")


def test_create_answers_202_with_its_location_and_queues_the_job(
    owner_client, instrument, strategy_version, owner
):
    response = _create(owner_client, strategy_version, mode="anchored")

    assert response.status_code == 202, response.json()
    walkforward = WalkForward.objects.get()
    assert response["Location"] == f"/api/v1/walkforwards/{walkforward.pk}/"
    body = response.json()
    assert body["id"] == walkforward.pk and body["status"] == "queued"
    assert body["instruments"] == ["AAA"] and body["mode"] == "anchored"
    assert (body["in_sample_bars"], body["out_of_sample_bars"], body["step_bars"]) == (60, 30, 30)
    assert walkforward.queue == "optimizations" and walkforward.owner == owner
    assert walkforward.space["total"] == 2 and walkforward.parameters["slow"] == 10


def test_the_detail_holds_windows_summary_and_curve_once_finished(
    owner_client, instrument, strategy_version
):
    pk = _create(owner_client, strategy_version).json()["id"]
    queued = owner_client.get(f"/api/v1/walkforwards/{pk}/").json()
    assert queued["windows"] == [] and queued["summary"] is None and queued["curve"] is None

    walkforward_execute(walkforward_id=pk)
    body = owner_client.get(f"/api/v1/walkforwards/{pk}/").json()

    assert body["status"] == "succeeded" and body["n_windows"] == 2
    assert [w["index"] for w in body["windows"]] == [0, 1]
    first = body["windows"][0]
    assert first["oos_start"] == "2015-03-02T00:00:00Z"  # bar 60 of daily bars from Jan 1st
    assert first["parameters"]["fast"] in (3, 5) and first["candidates"] == 2
    assert set(body["summary"]) >= {"total_return", "cagr", "sharpe_ratio", "max_drawdown"}
    assert len(body["curve"]["t"]) == 60 == len(body["curve"]["buy_and_hold"])
    stored = WalkForward.objects.get(pk=pk).result
    assert body["summary"]["total_return"] == pytest.approx(stored.summary["total_return"])


def test_the_list_shows_the_owners_walkforwards_newest_first(
    owner_client, instrument, strategy_version, other_user
):
    first = _create(owner_client, strategy_version).json()["id"]
    second = _create(owner_client, strategy_version).json()["id"]

    body = owner_client.get("/api/v1/walkforwards/").json()

    assert [r["id"] for r in body["results"]] == [second, first]
    assert "windows" not in body["results"][0]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"in_sample_bars": 0}, "in_sample_bars"),
        ({"mode": "sideways"}, "mode"),
        ({"step_bars": 10}, "windows"),  # below out-of-sample: overlapping windows
        ({"in_sample_bars": 200}, "windows"),  # does not fit in 120 bars
        ({"space": {"parameters": {"nope": {"min": 1, "max": 2, "step": 1}}}}, "space"),
        ({"objective": "luck"}, "objective"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    owner_client, instrument, strategy_version, overrides, field
):
    response = _create(owner_client, strategy_version, **overrides)

    assert response.status_code == 400
    assert field in str(response.json())
    assert not WalkForward.objects.exists()


def test_another_users_walkforward_is_not_found(
    owner_client, instrument, strategy_version, other_user
):
    pk = _create(owner_client, strategy_version).json()["id"]
    other = APIClient()
    other.force_authenticate(other_user)

    assert other.get(f"/api/v1/walkforwards/{pk}/").status_code == 404
    assert other.post(f"/api/v1/walkforwards/{pk}/cancel/").status_code == 404
    assert other.get("/api/v1/walkforwards/").json()["count"] == 0
    assert WalkForward.objects.get().status == JobStatus.QUEUED


def test_anonymous_requests_are_401(api_client, owner_client, instrument, strategy_version):
    pk = _create(owner_client, strategy_version).json()["id"]

    assert _create(api_client, strategy_version).status_code == 401
    assert api_client.get("/api/v1/walkforwards/").status_code == 401
    assert api_client.get(f"/api/v1/walkforwards/{pk}/").status_code == 401
    assert api_client.post(f"/api/v1/walkforwards/{pk}/cancel/").status_code == 401


def test_a_read_only_user_cannot_start_one(viewer, instrument, strategy_version):
    client = APIClient()
    client.force_authenticate(viewer)

    assert _create(client, strategy_version).status_code == 403
    assert not WalkForward.objects.exists()


def test_cancel_ends_a_queued_walkforward_and_a_second_cancel_is_a_conflict(
    owner_client, instrument, strategy_version
):
    pk = _create(owner_client, strategy_version).json()["id"]

    response = owner_client.post(f"/api/v1/walkforwards/{pk}/cancel/")
    again = owner_client.post(f"/api/v1/walkforwards/{pk}/cancel/")

    assert response.status_code == 202 and response.json()["status"] == "cancelled"
    assert again.status_code == 409
    assert WalkForward.objects.get().status == JobStatus.CANCELLED


def test_the_list_costs_the_same_queries_however_many_it_shows(
    owner_client, instrument, strategy_version, django_assert_num_queries
):
    for _ in range(3):
        _create(owner_client, strategy_version)

    with django_assert_num_queries(2):  # the count and the page (with its strategy version)
        body = owner_client.get("/api/v1/walkforwards/").json()

    assert body["count"] == 3
