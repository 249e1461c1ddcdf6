"""The sweeps API: create (202 + Location), list, detail, results (sorted, CSV), cancel and
backtest-this; bad input is a 400 with the field, another user's sweep a 404, anonymous 401."""

from __future__ import annotations

import csv
import io

import pytest

from backtesting.models import Backtest
from backtesting.optimization.models import Optimization, OptimizationResult
from tests.optimization.conftest import run_all_chunks

pytestmark = pytest.mark.django_db

SMALL_GRID = {
    "kind": "grid",
    "parameters": {
        "fast": {"min": 5, "max": 15, "step": 5},
        "slow": {"min": 40, "max": 80, "step": 40},
    },
}


def body(strategy_version, **overrides):
    data = {
        "strategy": strategy_version.strategy_id,
        "instruments": ["AAA"],
        "timeframe": "1d",
        "start": "2015-01-01T00:00:00Z",
        "end": "2016-12-31T00:00:00Z",
        "settings": {"initial_cash": 10000.0},
        "space": SMALL_GRID,
        "constraints": ["fast < slow"],
        "objective": "sharpe",
    }
    data.update(overrides)
    return data


@pytest.fixture
def finished(instrument, strategy_version, owner_client):
    response = owner_client.post("/api/v1/optimizations/", body(strategy_version), format="json")
    assert response.status_code == 202, response.json()
    return run_all_chunks(Optimization.objects.get(pk=response.json()["id"]))


def test_create_answers_202_with_location_and_queues_the_chunks(
    instrument, strategy_version, owner_client, owner
):
    response = owner_client.post("/api/v1/optimizations/", body(strategy_version), format="json")
    assert response.status_code == 202
    data = response.json()
    assert response["Location"] == f"/api/v1/optimizations/{data['id']}/"
    assert data["status"] == "queued" and data["total"] == 6 and data["objective"] == "sharpe"
    optimization = Optimization.objects.get(pk=data["id"])
    assert optimization.owner == owner
    assert optimization.chunks.filter(status="queued").count() == 1


def test_a_bad_constraint_is_a_400_naming_the_constraint_and_its_column(
    instrument, strategy_version, owner_client
):
    bad = body(strategy_version, constraints=["fast < slow", "fast <> slow"])
    response = owner_client.post("/api/v1/optimizations/", bad, format="json")
    assert response.status_code == 400
    problem = response.json()["error"]["details"]["constraints"]["1"]
    assert isinstance(problem["column"], int) and problem["message"]
    response = owner_client.post(
        "/api/v1/optimizations/", body(strategy_version, objective="luck"), format="json"
    )
    assert response.status_code == 400 and "objective" in response.json()["error"]["details"]
    assert not Optimization.objects.exists()


def test_list_and_detail_show_progress_the_best_so_far_and_the_deflated_sharpe(
    finished, owner_client
):
    listed = owner_client.get("/api/v1/optimizations/").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == finished.pk
    detail = owner_client.get(f"/api/v1/optimizations/{finished.pk}/").json()
    assert detail["status"] == "succeeded" and detail["progress"] == 1.0
    assert detail["stored"] == 6 and detail["failed"] == 0
    assert detail["best"]["index"] == finished.best_index
    assert detail["deflated"]["n_trials"] == 6
    assert detail["deflated"]["dsr"] <= detail["deflated"]["psr"]


def test_results_sort_by_any_headline_metric_and_download_as_csv(finished, owner_client):
    url = f"/api/v1/optimizations/{finished.pk}/results/"
    by_objective = owner_client.get(url).json()["results"]
    objectives = [r["objective"] for r in by_objective]
    assert objectives == sorted(objectives, reverse=True) and len(objectives) == 6
    by_trades = owner_client.get(url, {"sort": "n_trades", "order": "asc"}).json()["results"]
    trades = [r["metrics"]["n_trades"] for r in by_trades]
    assert trades == sorted(trades)
    assert owner_client.get(url, {"sort": "luck"}).status_code == 400
    response = owner_client.get(url, {"format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    header = text.splitlines()[0].split(",")
    assert len(header) == len(set(header)), header  # every column once
    lines = list(csv.DictReader(io.StringIO(text)))
    assert len(lines) == 6
    assert {(int(r["fast"]), int(r["slow"])) for r in lines} == {
        (f, s) for f in (5, 10, 15) for s in (40, 80)
    }
    assert float(lines[0]["objective"]) == pytest.approx(objectives[0])


def test_backtest_this_creates_a_normal_backtest_with_that_combinations_parameters(
    finished, owner_client
):
    row = OptimizationResult.objects.get(optimization=finished, index=3)
    response = owner_client.post(f"/api/v1/optimizations/{finished.pk}/results/3/backtest/")
    assert response.status_code == 202
    backtest = Backtest.objects.get(pk=response.json()["id"])
    assert response["Location"] == f"/api/v1/backtests/{backtest.pk}/"
    assert backtest.parameters == {**finished.parameters, **row.parameters}
    assert backtest.settings == finished.settings and backtest.symbols == ["AAA"]
    missing = owner_client.post(f"/api/v1/optimizations/{finished.pk}/results/99/backtest/")
    assert missing.status_code == 404


def test_cancel_stops_a_queued_sweep_and_a_finished_one_is_a_conflict(
    instrument, strategy_version, owner_client, finished
):
    created = owner_client.post("/api/v1/optimizations/", body(strategy_version), format="json")
    pk = created.json()["id"]
    response = owner_client.post(f"/api/v1/optimizations/{pk}/cancel/")
    assert response.status_code == 202 and response.json()["status"] == "cancelled"
    assert set(Optimization.objects.get(pk=pk).chunks.values_list("status", flat=True)) == {
        "cancelled"
    }
    assert owner_client.post(f"/api/v1/optimizations/{finished.pk}/cancel/").status_code == 409


def test_another_users_sweep_is_404_everywhere(finished, other_user, api_client):
    api_client.force_authenticate(other_user)
    base = f"/api/v1/optimizations/{finished.pk}/"
    assert api_client.get("/api/v1/optimizations/").json()["count"] == 0
    for url in (base, base + "results/"):
        assert api_client.get(url).status_code == 404
    for url in (base + "cancel/", base + "results/0/backtest/"):
        assert api_client.post(url).status_code == 404
    assert not Backtest.objects.exists()


def test_anonymous_gets_401(finished, api_client):
    assert api_client.get("/api/v1/optimizations/").status_code == 401
    assert api_client.get(f"/api/v1/optimizations/{finished.pk}/").status_code == 401
    assert api_client.post("/api/v1/optimizations/", {}, format="json").status_code == 401


def test_the_list_costs_two_queries_for_one_sweep_or_many(
    instrument, strategy_version, owner_client, django_assert_num_queries
):
    def post():
        response = owner_client.post(
            "/api/v1/optimizations/", body(strategy_version), format="json"
        )
        assert response.status_code == 202

    for expected in (1, 3):
        while Optimization.objects.count() < expected:
            post()
        with django_assert_num_queries(2):  # the count and the page (strategy joined)
            assert owner_client.get("/api/v1/optimizations/").json()["count"] == expected
