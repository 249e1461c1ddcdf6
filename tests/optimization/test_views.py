"""The sweep pages: the form prefilled from declared bounds submits a sweep; a constraint error
is shown with its column; the detail page, its status JSON, Cancel and Backtest-this; another
user gets 404."""

from __future__ import annotations

import pytest

from backtesting.models import Backtest
from backtesting.optimization.models import Optimization
from tests.optimization.conftest import run_all_chunks

pytestmark = pytest.mark.django_db

FORM = {
    "instruments": "AAA",
    "timeframe": "1d",
    "start": "2015-01-01",
    "end": "2016-12-31",
    "initial_cash": "10000",
    "sweep_fast": "on",
    "min_fast": "5",
    "max_fast": "15",
    "step_fast": "5",
    "sweep_slow": "on",
    "min_slow": "40",
    "max_slow": "80",
    "step_slow": "40",
    "constraints": "fast < slow",
    "kind": "grid",
    "objective": "sharpe",
    "direction": "max",
    "min_trades": "0",
}


def test_the_form_is_prefilled_from_the_declared_bounds(client, owner, strategy_version):
    client.force_login(owner)
    html = client.get(f"/research/sweeps/new/?strategy={strategy_version.strategy_id}").content
    page = html.decode()
    # fast is declared 2..200: ten values 2, 24, ..., 200; both numeric parameters ticked.
    assert 'name="min_fast" value="2"' in page and 'name="max_fast" value="200"' in page
    assert 'name="step_fast" value="22"' in page
    assert 'name="sweep_slow" aria-label="Sweep slow" checked' in page


def test_posting_the_form_starts_a_sweep_and_shows_it(client, owner, instrument, strategy_version):
    client.force_login(owner)
    url = f"/research/sweeps/new/?strategy={strategy_version.strategy_id}"
    response = client.post(url, FORM)
    optimization = Optimization.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/research/sweeps/{optimization.pk}/"
    assert optimization.total == 6 and optimization.constraints == ["fast < slow"]
    run_all_chunks(optimization)
    page = client.get(response["Location"]).content.decode()
    assert "Best combination" in page and "Deflated Sharpe (DSR)" in page
    optimization.refresh_from_db()
    dsr = min(int(optimization.deflated["dsr"] * 1000), 999) / 10
    assert f"{dsr:.1f} %" in page  # floored to a tenth: never a certain 100 %
    assert page.count("Backtest this") == 6
    # A finished sweep leads on to the out-of-sample check, with its inputs carried over.
    assert f'href="/research/walk-forward/new/?optimization={optimization.pk}"' in page
    status = client.get(f"/research/sweeps/{optimization.pk}/status.json").json()
    assert status["stored"] == 6 and status["names"] == ["fast", "slow"]
    assert len(status["points"]) == 6 and status["finished"] is True
    response = client.post(f"/research/sweeps/{optimization.pk}/results/0/backtest/")
    backtest = Backtest.objects.get()
    assert response["Location"] == f"/backtests/{backtest.pk}/"
    assert backtest.parameters["fast"] == 5 and backtest.parameters["slow"] == 40


def test_a_bad_constraint_is_shown_with_its_column(client, owner, instrument, strategy_version):
    client.force_login(owner)
    url = f"/research/sweeps/new/?strategy={strategy_version.strategy_id}"
    page = client.post(url, {**FORM, "constraints": "fast < slow\nfast < < slow"}).content.decode()
    assert "constraints 2 (column" in page
    assert not Optimization.objects.exists()


def test_cancel_from_the_page_and_another_user_gets_404(
    client, owner, other_user, instrument, strategy_version
):
    client.force_login(owner)
    client.post(f"/research/sweeps/new/?strategy={strategy_version.strategy_id}", FORM)
    optimization = Optimization.objects.get()
    client.force_login(other_user)
    for url in ("", "status.json"):
        assert client.get(f"/research/sweeps/{optimization.pk}/{url}").status_code == 404
    assert client.post(f"/research/sweeps/{optimization.pk}/cancel/").status_code == 404
    client.force_login(owner)
    client.post(f"/research/sweeps/{optimization.pk}/cancel/")
    optimization.refresh_from_db()
    assert optimization.status == "cancelled"
    listed = client.get("/research/sweeps/").content.decode()
    assert f'data-sweep="{optimization.pk}"' in listed and "Cancelled" in listed


def test_a_backtest_offers_a_sweep_prefilled_with_its_inputs(
    client, owner, instrument, strategy_version
):
    from backtesting.services import backtest_submit
    from tests.backtesting.conftest import make_input

    backtest = backtest_submit(
        owner=owner, data=make_input(strategy_version, parameters={"fast": 7, "slow": 30})
    )
    Backtest.objects.filter(pk=backtest.pk).update(status="failed")  # finished: actions shown
    client.force_login(owner)
    detail = client.get(f"/backtests/{backtest.pk}/").content.decode()
    link = f"/research/sweeps/new/?backtest={backtest.pk}"
    assert link in detail.replace("&amp;", "&")
    page = client.get(link).content.decode()
    assert f"backtest {backtest.pk}" in page
    assert 'name="value_fast" value="7"' in page and 'name="start" value="2015-01-01"' in page
    assert 'href="/research/sweeps/" aria-current="page">Research</a>' in page


@pytest.mark.parametrize(
    ("raw", "declared", "expected"),
    [
        (0.3888, None, 0.5),
        (0.12, None, 0.2),
        (2.1, None, 2.5),
        (0.03, 0.25, 0.25),
        (0.9, 0.25, 1.0),
    ],
)
def test_a_float_range_is_prefilled_with_a_round_step(raw, declared, expected):
    from backtesting.optimization.forms import nice_step

    assert nice_step(raw, declared) == expected


def test_the_form_offers_float_ranges_that_read_as_written(client, owner):
    from strategies.services import strategy_create

    code = (
        "from strategy import Strategy, Param\n\n\nclass Bands(Strategy):\n"
        "    width = Param(2.0, min=0.5, max=4.0)\n\n    def next(self):\n        pass\n"
    )
    strategy = strategy_create(owner=owner, name="Bands", code=code)
    client.force_login(owner)
    page = client.get(f"/research/sweeps/new/?strategy={strategy.pk}").content.decode()
    # (4.0 - 0.5) / 9 is 0.3888…: the form offers 0.5 steps from 0.5 to 4.0 instead.
    assert 'name="step_width" value="0.5"' in page and 'name="max_width" value="4.0"' in page
