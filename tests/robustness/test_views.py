"""The Robustness box on the backtest page and a test's run page."""

from __future__ import annotations

from backtesting.robustness.execution import robustness_execute
from backtesting.robustness.models import RobustnessRun


def test_the_backtest_page_offers_the_three_tests_and_links_the_finished_ones(
    client, owner, backtest
):
    client.force_login(owner)
    response = client.post(
        f"/research/robustness/backtests/{backtest.pk}/start/",
        {"kind": "random_entry", "n_strategies": "40", "seed": "9"},
    )
    run = RobustnessRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/research/robustness/{run.pk}/"
    assert run.parameters == {"n_strategies": 40, "seed": 9}

    page = client.get(f"/backtests/{backtest.pk}/").content.decode()

    assert 'id="robustness"' in page
    for kind in ("monte_carlo", "random_entry", "lookahead"):
        assert f'name="kind" value="{kind}"' in page
    assert f'href="/research/robustness/{run.pk}/"' in page


def test_a_start_out_of_bounds_goes_back_with_the_reason(client, owner, backtest):
    client.force_login(owner)

    response = client.post(
        f"/research/robustness/backtests/{backtest.pk}/start/",
        {"kind": "monte_carlo", "n_runs": "999999"},
        follow=True,
    )

    assert "n_runs: Must be between 10 and 5,000." in response.content.decode()
    assert not RobustnessRun.objects.exists()


def test_a_finished_random_entry_page_explains_the_p_value(client, owner, backtest):
    client.force_login(owner)
    client.post(
        f"/research/robustness/backtests/{backtest.pk}/start/",
        {"kind": "random_entry", "n_strategies": "40", "seed": "9"},
    )
    run = robustness_execute(run_id=RobustnessRun.objects.get().pk)

    page = client.get(f"/research/robustness/{run.pk}/").content.decode()

    assert "p-value <strong>" in page and "if the entries were random" in page
    assert 'id="robustness-result"' in page and 'id="rb-hist-chance"' in page


def test_a_finished_lookahead_page_gives_its_verdict(client, owner, backtest):
    client.force_login(owner)
    client.post(
        f"/research/robustness/backtests/{backtest.pk}/start/",
        {"kind": "lookahead", "n_checks": "2", "seed": "1"},
    )
    run = robustness_execute(run_id=RobustnessRun.objects.get().pk)

    page = client.get(f"/research/robustness/{run.pk}/").content.decode()

    assert "No look-ahead found in 2 checks" in page


def test_the_status_json_and_the_page_are_the_owners_only(client, owner, other_user, backtest):
    client.force_login(owner)
    client.post(f"/research/robustness/backtests/{backtest.pk}/start/", {"kind": "lookahead"})
    run = RobustnessRun.objects.get()
    assert client.get(f"/research/robustness/{run.pk}/status/").json() == {
        "status": "queued",
        "progress": 0.0,
        "finished": False,
    }

    client.force_login(other_user)

    assert client.get(f"/research/robustness/{run.pk}/").status_code == 404
    assert client.get(f"/research/robustness/{run.pk}/status/").status_code == 404
    assert client.post(f"/research/robustness/{run.pk}/cancel/").status_code == 404
    assert (
        client.post(
            f"/research/robustness/backtests/{backtest.pk}/start/", {"kind": "lookahead"}
        ).status_code
        == 404
    )
