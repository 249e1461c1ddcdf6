"""Walk-forward pages: the list, the new form prefilled from a backtest, submit, the detail with
its windows, chart data and efficiency, the status JSON, and cancel; owner only."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from backtesting.jobs.fields import JobStatus
from backtesting.services import backtest_submit
from backtesting.walkforward.execution import walkforward_execute
from backtesting.walkforward.models import WalkForward
from tests.backtesting.conftest import make_input

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


FORM = {
    "instruments": "AAA",
    "timeframe": "1d",
    "start": "2015-01-01",
    "end": "2015-04-30",
    "initial_cash": "10000",
    "mode": "rolling",
    "in_sample_bars": "40",
    "out_of_sample_bars": "20",
    "step_bars": "20",
    "sweep_fast": "on",
    "min_fast": "3",
    "max_fast": "5",
    "step_fast": "2",
    "value_slow": "10",
    "kind": "grid",
    "objective": "total_return",
    "direction": "max",
    "min_trades": "0",
}


def test_the_new_form_is_prefilled_from_a_backtest(owner, instrument, strategy_version):
    backtest = backtest_submit(owner=owner, data=make_input(strategy_version))

    page = _client(owner).get(f"/research/walk-forward/new/?backtest={backtest.pk}")

    html = page.content.decode()
    assert page.status_code == 200
    assert f"backtest {backtest.pk}</a>" in html
    assert 'name="instruments" value="AAA"' in html and 'value="2015-01-01"' in html
    assert 'name="in_sample_bars" value="250"' in html
    assert 'name="value_slow" value="20"' in html  # the backtest's own parameter value


def test_the_new_form_takes_a_sweeps_inputs_and_space(owner, instrument, strategy_version):
    from backtesting.optimization.services import optimization_submit
    from tests.optimization.conftest import sweep_input

    space = {"kind": "grid", "parameters": {"fast": {"min": 4, "max": 12, "step": 4}}}
    data = sweep_input(
        strategy_version,
        objective="calmar",
        min_trades=3,
        parameters={"slow": 30},
        space=space,
        constraints=["fast < slow"],
    )
    sweep = optimization_submit(owner=owner, data=data)

    html = (
        _client(owner).get(f"/research/walk-forward/new/?optimization={sweep.pk}").content.decode()
    )

    assert f"sweep {sweep.pk}</a>" in html
    assert 'name="sweep_fast" aria-label="Sweep fast" checked' in html
    assert 'name="min_fast" value="4"' in html and 'name="step_fast" value="4"' in html
    assert 'name="sweep_slow" aria-label="Sweep slow">' in html  # not swept: its value is kept
    assert 'name="value_slow" value="30"' in html
    assert '<option value="calmar" selected>' in html and 'name="min_trades" value="3"' in html
    assert "fast &lt; slow</textarea>" in html


def test_submitting_the_form_creates_the_walkforward_and_opens_its_page(
    owner, instrument, strategy_version
):
    response = _client(owner).post(
        f"/research/walk-forward/new/?strategy={strategy_version.strategy_id}", FORM
    )

    walkforward = WalkForward.objects.get()
    assert (
        response.status_code == 302
        and response["Location"] == f"/research/walk-forward/{walkforward.pk}/"
    )
    assert walkforward.space["parameters"] == {"fast": {"min": 3, "max": 5, "step": 2}}
    assert walkforward.parameters["slow"] == 10 and walkforward.in_sample_bars == 40


def test_a_refused_form_says_what_is_wrong(owner, instrument, strategy_version):
    response = _client(owner).post(
        f"/research/walk-forward/new/?strategy={strategy_version.strategy_id}",
        {**FORM, "step_bars": "5"},
    )

    assert response.status_code == 200
    assert "must be at least out_of_sample" in response.content.decode()
    assert not WalkForward.objects.exists()


def test_the_detail_shows_windows_chart_data_and_efficiency(owner, submit_walkforward, other_user):
    walkforward = submit_walkforward()
    walkforward_execute(walkforward_id=walkforward.pk)

    html = _client(owner).get(f"/research/walk-forward/{walkforward.pk}/").content.decode()

    assert html.count('<tr data-window="') == 4
    assert "2015-02-10 to 2015-03-01" in html  # window 1's out-of-sample bars 40..59
    assert "Walk-forward efficiency" in html
    start = html.index(">", html.index('id="walkforward-curve"')) + 1
    curve = json.loads(html[start : html.index("</script>", start)])
    assert curve == WalkForward.objects.get().result.curve
    assert _client(other_user).get(f"/research/walk-forward/{walkforward.pk}/").status_code == 404


def test_the_list_shows_my_walkforwards_only(owner, other_user, submit_walkforward):
    walkforward = submit_walkforward()

    mine = _client(owner).get("/research/walk-forward/").content.decode()
    theirs = _client(other_user).get("/research/walk-forward/").content.decode()

    assert f'data-walkforward="{walkforward.pk}"' in mine
    assert "data-walkforward=" not in theirs


def test_status_json_and_cancel(owner, other_user, submit_walkforward):
    walkforward = submit_walkforward()
    url = f"/research/walk-forward/{walkforward.pk}/"

    status = _client(owner).get(url + "status/").json()
    assert status == {
        "status": "queued",
        "progress": 0.0,
        "finished": False,
        "windows_done": 0,
        "n_windows": 0,
    }
    assert _client(other_user).post(url + "cancel/").status_code == 404
    assert WalkForward.objects.get().status == JobStatus.QUEUED
    assert _client(owner).post(url + "cancel/").status_code == 302
    assert WalkForward.objects.get().status == JobStatus.CANCELLED


def test_a_viewer_cannot_open_the_new_form(viewer, instrument, strategy_version):
    client = Client()
    client.force_login(viewer)

    assert client.get("/research/walk-forward/new/").status_code == 403
