"""The robustness API: start a test on a backtest (202 + Location), list, detail, cancel;
owner only (others 404), anonymous 401, read-only role 403, bad input 400 naming the field."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from backtesting.jobs.fields import JobStatus
from backtesting.robustness.execution import robustness_execute
from backtesting.robustness.models import RobustnessRun


def _start(client, backtest, kind="random_entry", **parameters):
    return client.post(
        f"/api/v1/backtests/{backtest.pk}/robustness/",
        {"kind": kind, "parameters": parameters},
        format="json",
    )


def test_starting_a_test_answers_202_with_its_location_and_queues_it(owner_client, backtest):
    response = _start(owner_client, backtest, "monte_carlo", method="bootstrap", n_runs=50, seed=4)

    assert response.status_code == 202
    run = RobustnessRun.objects.get()
    assert response["Location"] == f"/api/v1/robustness/{run.pk}/"
    body = response.json()
    assert body["id"] == run.pk and body["backtest"] == backtest.pk
    assert body["status"] == "queued" and body["kind"] == "monte_carlo"
    assert body["parameters"] == {"method": "bootstrap", "n_runs": 50, "seed": 4}
    assert run.queue == "optimizations" and run.owner == backtest.owner


def test_the_detail_holds_the_result_once_the_run_finished(owner_client, backtest):
    run_id = _start(owner_client, backtest, n_strategies=40, seed=1).json()["id"]
    assert owner_client.get(f"/api/v1/robustness/{run_id}/").json()["result"] is None

    robustness_execute(run_id=run_id)
    body = owner_client.get(f"/api/v1/robustness/{run_id}/").json()

    assert body["status"] == "succeeded" and body["progress"] == 1.0
    assert body["result"]["n_strategies"] == 40
    assert 0 < body["result"]["p_value"] <= 1


def test_the_list_shows_the_owners_tests_of_that_backtest(owner_client, backtest):
    first = _start(owner_client, backtest, seed=1).json()["id"]
    second = _start(owner_client, backtest, "lookahead", n_checks=2).json()["id"]

    body = owner_client.get(f"/api/v1/backtests/{backtest.pk}/robustness/").json()

    assert [r["id"] for r in body["results"]] == [second, first]
    assert "result" not in body["results"][0]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "monte_carlo", "parameters": {"n_runs": 100_000}}, "n_runs"),
        ({"kind": "lookahead", "parameters": {"n_checks": 50}}, "n_checks"),
        ({"kind": "tea_leaves"}, "kind"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(owner_client, backtest, payload, field):
    response = owner_client.post(
        f"/api/v1/backtests/{backtest.pk}/robustness/", payload, format="json"
    )

    assert response.status_code == 400
    assert field in str(response.json())
    assert not RobustnessRun.objects.exists()


def test_another_users_backtest_and_test_are_not_found(other_user, owner_client, backtest):
    run_id = _start(owner_client, backtest).json()["id"]
    other = APIClient()
    other.force_authenticate(other_user)

    assert _start(other, backtest).status_code == 404
    assert other.get(f"/api/v1/backtests/{backtest.pk}/robustness/").status_code == 404
    assert other.get(f"/api/v1/robustness/{run_id}/").status_code == 404
    assert other.post(f"/api/v1/robustness/{run_id}/cancel/").status_code == 404
    assert RobustnessRun.objects.get().status == JobStatus.QUEUED


def test_anonymous_requests_are_401(api_client, owner_client, backtest):
    run_id = _start(owner_client, backtest).json()["id"]

    assert _start(api_client, backtest).status_code == 401
    assert api_client.get(f"/api/v1/robustness/{run_id}/").status_code == 401
    assert api_client.post(f"/api/v1/robustness/{run_id}/cancel/").status_code == 401


def test_a_read_only_user_cannot_start_a_test(viewer, backtest):
    client = APIClient()
    client.force_authenticate(viewer)

    assert _start(client, backtest).status_code == 403
    assert not RobustnessRun.objects.exists()


def test_cancel_ends_a_queued_test_and_a_second_cancel_is_a_conflict(owner_client, backtest):
    run_id = _start(owner_client, backtest).json()["id"]

    response = owner_client.post(f"/api/v1/robustness/{run_id}/cancel/")
    again = owner_client.post(f"/api/v1/robustness/{run_id}/cancel/")

    assert response.status_code == 202 and response.json()["status"] == "cancelled"
    assert again.status_code == 409
    assert RobustnessRun.objects.get().status == JobStatus.CANCELLED


def test_the_list_costs_the_same_queries_however_many_tests_it_shows(
    owner_client, backtest, django_assert_num_queries
):
    for seed in range(3):
        _start(owner_client, backtest, seed=seed)
    url = f"/api/v1/backtests/{backtest.pk}/robustness/"

    # the backtest, the count and the page: no query per run
    with django_assert_num_queries(3) as captured:
        body = owner_client.get(url).json()

    assert body["count"] == 3
    assert not any("robustness_robustnessresult" in q["sql"] for q in captured.captured_queries)
