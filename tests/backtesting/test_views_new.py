"""The "Run a backtest" page: a form in front of `backtest_submit`, with the owner, an
outsider, a viewer and an anonymous visitor. Celery never runs: the task is stubbed."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest
from django.db import transaction
from django.test import Client

from backtesting.engine import BarSeries
from backtesting.marketdata.selectors import data_availability
from backtesting.marketdata.services import series_version_bump
from backtesting.marketdata.writes import bars_upsert
from backtesting.models import Backtest, BacktestStatus
from tests.backtesting.conftest import seed_bars
from tests.factories import InstrumentFactory, StrategyFactory, StrategyVersionFactory

URL = "/backtests/new/"


@pytest.fixture(autouse=True)
def sent(monkeypatch) -> list[Any]:
    """What would have been published to the broker (nothing runs)."""
    from backtesting import tasks

    published: list[Any] = []
    monkeypatch.setattr(
        tasks.backtest_execute_task, "apply_async", lambda *a, **k: published.append((a, k))
    )
    return published


@pytest.fixture
def strategy(owner, instrument):
    strategy = StrategyFactory.create(owner=owner, name="Trend")
    StrategyVersionFactory(strategy=strategy)  # v2: the form defaults to it
    return strategy


@pytest.fixture
def client(owner) -> Client:
    client = Client()
    client.force_login(owner)
    return client


def form_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "version": "1",
        "instruments": ["AAA"],
        "timeframe": "1d",
        "start": "2015-01-01",
        "end": "2015-12-31",
        "param_fast": "7",
        "param_slow": "30",
        "initial_cash": "5000",
        "commission_pct": "0.1",
        "slippage_bps": "2",
        "allow_short": "on",
        "sizing": "whole",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_the_form_shows_the_latest_version_its_parameters_and_the_data_range(
    client, strategy
) -> None:
    response = client.get(URL, {"strategy": strategy.pk})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="csrfmiddlewaretoken"' in html
    assert '<option value="2" selected>v2 (latest)</option>' in html
    assert 'name="param_fast" value="10" min="2" max="200" step="1"' in html
    assert "Fast SMA period (bars). A whole number from 2 to 200; default 10." in html
    # The only instrument with data comes ticked, the dates span its bars.
    assert (
        '<input type="checkbox" name="instruments" value="AAA" id="id_instruments_0" checked>'
        in html
    )
    assert 'name="start" value="2015-01-01"' in html and 'name="end" value="2016-05-14"' in html
    assert 'name="initial_cash" value="100000"' in html and "Initial cash (USD)" in html
    # The CSP allows no inline script: every script is a file or JSON data.
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts and all("src=" in tag or 'type="application/json"' in tag for tag in scripts)
    assert "style=" not in html


def test_costs_default_to_0_1_percent_commission_and_5_bps_slippage_with_their_units(
    client, strategy
) -> None:
    html = client.get(URL, {"strategy": strategy.pk}).content.decode()
    assert 'name="commission_pct" value="0.1"' in html
    assert "Commission (% of each trade&#x27;s value)" in html
    assert 'name="slippage_bps" value="5"' in html and "Slippage (basis points per fill)" in html
    defaults = form_data(commission_pct="0.1", slippage_bps="5.0")
    client.post(f"{URL}?strategy={strategy.pk}", defaults)
    # The engine's units: a fraction of the notional, basis points per side.
    costs = Backtest.objects.get().settings["costs"]
    assert costs["commission_pct"] == pytest.approx(0.001) and costs["slippage_bps"] == 5.0


def seed_hourly(symbol: str, n: int = 48) -> Any:
    """`n` hourly bars from 2015-03-02 (a stored 1h series: 4h and 1d are resampled from it)."""
    instrument: Any = InstrumentFactory(symbol=symbol, timezone="UTC")
    ts = np.datetime64("2015-03-02T00:00", "ns").astype(np.int64) + np.arange(n) * 3600 * 10**9
    close = np.linspace(100, 110, n)
    bars = BarSeries(symbol, ts, close, close * 1.01, close * 0.99, close, np.full(n, 10.0))
    with transaction.atomic():
        counts = bars_upsert(
            instrument_id=instrument.pk, timeframe="1h", bars=bars, batch_size=500, progress=None
        )
        series_version_bump(instrument, "1h", changed=counts.changed)
    return instrument


def timeframe_options(html: str) -> list[str]:
    select = html[html.index('<select name="timeframe"') :]
    select = select[: select.index("</select>")]
    return re.findall(r'<option value="([^"]+)"', select)


def test_only_timeframes_with_data_are_offered(client, strategy) -> None:
    assert timeframe_options(client.get(URL, {"strategy": strategy.pk}).content.decode()) == [
        "1d",
        "1w",
    ]  # AAA has daily bars: no minute or hour timeframe without data behind it
    seed_hourly("HHH")
    html = client.get(URL, {"strategy": strategy.pk}).content.decode()
    # Hourly bars serve 1h and everything coarser (resampled), never 1m-15m.
    assert timeframe_options(html) == ["1h", "4h", "1d", "1w"]
    availability = json.loads(
        html.split('id="data-availability" type="application/json">')[1].split("</script>")[0]
    )
    assert availability["HHH"]["4h"] == ["2015-03-02", "2015-03-03"]
    assert availability["AAA"] == {
        "1d": ["2015-01-01", "2016-05-14"],
        "1w": ["2015-01-01", "2016-05-14"],
    }
    # Two instruments: none ticked, the dates span all of the default (daily) data.
    assert 'name="instruments" value="AAA" id="id_instruments_0">' in html
    assert 'name="start" value="2015-01-01"' in html and 'name="end" value="2016-05-14"' in html


def test_a_timeframe_one_chosen_instrument_lacks_is_an_error_on_the_timeframe(
    client, strategy
) -> None:
    seed_hourly("HHH")
    data = form_data(
        instruments=["AAA", "HHH"], timeframe="1h", start="2015-03-02", end="2015-03-03"
    )
    response = client.post(f"{URL}?strategy={strategy.pk}", data)
    assert response.context["form"].errors["timeframe"] == ["No 1h data for AAA."]
    assert "No 1h data for AAA." in row_html(response.content.decode(), "timeframe")
    assert not Backtest.objects.exists()


def test_the_data_availability_lists_each_served_timeframe_with_its_source_range(db) -> None:
    seed_bars("DDD", n=10)
    seed_hourly("HHH", n=5)
    availability = data_availability()
    assert list(availability) == ["DDD", "HHH"]
    assert set(availability["DDD"]) == {"1d", "1w"}
    first, last = availability["HHH"]["1d"]
    assert (first.hour, last.hour) == (0, 4) and set(availability["HHH"]) == {
        "1h",
        "4h",
        "1d",
        "1w",
    }


def test_sizing_and_benchmark_reach_the_engine_settings(client, strategy) -> None:
    seed_bars("BBB", seed=2)
    data = form_data(instruments=["AAA", "BBB"], sizing="lots", lot_size="100", benchmark="BBB")
    assert client.post(f"{URL}?strategy={strategy.pk}", data).status_code == 302
    settings = Backtest.objects.get().settings
    assert settings["lot_size"] == 100.0 and settings["fractional_units"] is False
    assert settings["benchmark"] == "BBB"
    client.post(f"{URL}?strategy={strategy.pk}", form_data(sizing="fractional"))
    latest = Backtest.objects.latest("pk").settings
    assert latest["fractional_units"] is True and latest["lot_size"] is None
    assert latest["benchmark"] is None


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"benchmark": "BBB"}, "benchmark", "Pick one of the instruments chosen above."),
        (
            {"sizing": "lots", "lot_size": ""},
            "lot_size",
            "Give a whole number of units, 1 or more.",
        ),
        (
            {"sizing": "lots", "lot_size": "2.5"},
            "lot_size",
            "Give a whole number of units, 1 or more.",
        ),
        ({"commission_pct": "-1"}, "commission_pct", "greater than or equal to 0"),
    ],
)
def test_bad_settings_are_shown_next_to_their_field(
    client, strategy, overrides, field, message
) -> None:
    seed_bars("BBB", seed=2)
    response = client.post(f"{URL}?strategy={strategy.pk}", form_data(**overrides))
    assert response.status_code == 200
    assert message in row_html(response.content.decode(), field)
    assert not Backtest.objects.exists()


def test_parameter_fields_follow_the_declared_types_choices_and_bounds(
    client, owner, instrument
) -> None:
    strategy = StrategyFactory.create(owner=owner)
    StrategyVersionFactory(
        strategy=strategy,
        parameters=[
            {"name": "level", "type": "float", "default": 30.0, "min": 5.0, "max": 50.0,
             "step": 0.5, "choices": None, "description": "RSI level"},
            {"name": "filter", "type": "bool", "default": True, "min": None, "max": None,
             "step": None, "choices": None, "description": ""},
            {"name": "mode", "type": "str", "default": "fast", "min": None, "max": None,
             "step": None, "choices": ["fast", "slow"], "description": "Which one"},
        ],
    )  # fmt: skip
    html = client.get(URL, {"strategy": strategy.pk}).content.decode()
    assert 'name="param_level" value="30.0" step="0.5" min="5.0" max="50.0"' in html
    assert "RSI level. A number from 5.0 to 50.0; default 30.0." in html
    assert 'type="checkbox" name="param_filter"' in html and "On or off; default on." in html
    assert (
        '<select name="param_mode"' in html
        and '<option value="fast" selected>fast</option>' in html
    )
    assert "Which one. One of fast, slow; default fast." in html


def row_html(html: str, field: str) -> str:
    """The markup of one field's row: where its label, input, help and errors are."""
    start = html.index(f'id="row-{field}"')
    return html[
        start : html.index("</div>", start)
        if field != "instruments"
        else html.index("</fieldset>", start)
    ]


def test_submitting_queues_a_backtest_pinned_to_the_chosen_version_and_redirects(
    client, strategy, django_capture_on_commit_callbacks, sent
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{URL}?strategy={strategy.pk}", form_data())
    backtest = Backtest.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/backtests/{backtest.pk}/"
    assert backtest.status == BacktestStatus.QUEUED
    assert backtest.strategy_version == strategy.versions.get(number=1)
    assert backtest.symbols == ["AAA"] and backtest.timeframe == "1d"
    assert backtest.parameters == {"fast": 7, "slow": 30}
    settings = backtest.settings
    assert settings["initial_cash"] == 5000.0 and settings["allow_short"] is True
    assert settings["costs"]["commission_pct"] == pytest.approx(0.001)
    assert settings["costs"]["slippage_bps"] == 2.0 and settings["fractional_units"] is False
    assert sent[0][0] == ((backtest.pk,),)  # enqueued once, after the commit
    detail = client.get(response["Location"]).content.decode()
    assert "Queued" in detail and f"Backtest {backtest.pk} is queued." in detail


def test_blank_parameters_take_the_declared_defaults(client, strategy) -> None:
    client.post(f"{URL}?strategy={strategy.pk}", form_data(param_fast="", param_slow=None))
    assert Backtest.objects.get().parameters == {"fast": 10, "slow": 20}


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"instruments": ["NOPE"]}, "instruments", "NOPE: Unknown instrument."),
        (
            {"start": "2030-01-01", "end": "2030-12-31"},
            "instruments",
            "AAA: No bars in this range and timeframe.",
        ),
        ({"param_fast": "1"}, "param_fast", "Must be at least 2."),
        ({"param_slow": "401"}, "param_slow", "Must be at most 400."),
        ({"param_fast": "ten"}, "param_fast", "Enter a whole number."),
        ({"start": "2016-01-01", "end": "2015-01-01"}, "start", "Must be before end."),
        ({"timeframe": "7m"}, "timeframe", "Select a valid choice."),
        ({"instruments": None}, "instruments", "This field is required."),
        ({"initial_cash": "-5"}, "initial_cash", "initial_cash must be"),
    ],
)
def test_bad_input_re_renders_the_form_with_the_error_and_creates_nothing(
    client, strategy, overrides, field, message
) -> None:
    response = client.post(f"{URL}?strategy={strategy.pk}", form_data(**overrides))
    assert response.status_code == 200
    form = response.context["form"]
    errors = form.errors.get(field or "__all__", [])
    assert any(message in error for error in errors), form.errors
    # Shown in the field's own row (or the summary on top), not only somewhere on the page.
    where = row_html(response.content.decode(), field) if field else response.content.decode()
    assert message.split(": ")[-1].split(" (")[0] in where
    assert not Backtest.objects.exists()


def test_the_quota_shows_as_a_form_error(client, strategy, owner) -> None:
    owner.quota_concurrent_backtests = 1
    owner.save(update_fields=["quota_concurrent_backtests"])
    assert client.post(f"{URL}?strategy={strategy.pk}", form_data()).status_code == 302
    response = client.post(f"{URL}?strategy={strategy.pk}", form_data())
    assert response.status_code == 200
    errors = response.context["form"].non_field_errors()
    assert errors == ["You can run 1 backtests at the same time; wait for one to finish."]
    assert Backtest.objects.count() == 1


def test_another_users_private_strategy_is_not_found(client, other_user, instrument) -> None:
    theirs = StrategyFactory.create(owner=other_user)
    assert client.get(URL, {"strategy": theirs.pk}).status_code == 404
    response = client.post(f"{URL}?strategy={theirs.pk}", form_data())
    assert response.status_code == 404 and not Backtest.objects.exists()


def test_a_shared_strategy_of_another_user_can_be_run(client, other_user, instrument) -> None:
    shared = StrategyFactory.create(owner=other_user, is_shared=True)
    response = client.post(f"{URL}?strategy={shared.pk}", form_data())
    assert response.status_code == 302 and Backtest.objects.get().owner.username == "owner"


def test_a_missing_version_or_a_malformed_strategy_id_is_not_found(client, strategy) -> None:
    assert client.get(URL, {"strategy": strategy.pk, "version": 9}).status_code == 404
    assert client.get(URL, {"strategy": "abc"}).status_code == 404


def test_without_a_strategy_the_page_lists_mine_and_shared_ones_with_a_run_button(
    client, strategy, other_user
) -> None:
    shared = StrategyFactory.create(owner=other_user, name="Their shared trend", is_shared=True)
    private = StrategyFactory.create(owner=other_user, name="Their secret")
    html = client.get(URL).content.decode()
    assert f'href="/backtests/new/?strategy={strategy.pk}" aria-label="Run Trend">Run</a>' in html
    assert f'href="/backtests/new/?strategy={shared.pk}"' in html and "shared by" in html
    assert f"?strategy={private.pk}" not in html and "Their secret" not in html


def test_the_strategy_list_is_searchable_by_name(client, strategy, owner) -> None:
    StrategyFactory.create(owner=owner, name="Mean reversion")
    html = client.get(URL, {"q": "revers"}).content.decode()
    assert "Mean reversion" in html and "Trend" not in html
    assert "No strategy's name contains “zzz”" in client.get(URL, {"q": "zzz"}).content.decode()


def test_viewers_get_the_forbidden_page(viewer, strategy) -> None:
    client = Client()
    client.force_login(viewer)
    assert client.get(URL, {"strategy": strategy.pk}).status_code == 403
    assert client.post(f"{URL}?strategy={strategy.pk}", form_data()).status_code == 403
    assert not Backtest.objects.exists()


def test_anonymous_visitors_are_sent_to_the_login_page(strategy) -> None:
    response = Client().get(URL, {"strategy": strategy.pk})
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_strategy_page_and_the_empty_list_link_to_the_form(client, strategy) -> None:
    detail = client.get(f"/strategies/{strategy.pk}/").content.decode()
    assert f'href="/backtests/new/?strategy={strategy.pk}"' in detail and "Run backtest" in detail
    assert 'href="/backtests/new/"' in client.get("/backtests/").content.decode()


def test_the_form_is_protected_by_csrf(owner, strategy) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(f"{URL}?strategy={strategy.pk}", form_data()).status_code == 403


def test_an_instrument_named_in_the_link_comes_ticked(client, strategy) -> None:
    seed_bars("BBB", seed=2)
    chooser = client.get(URL, {"instruments": "BBB"}).content.decode()
    assert f'href="/backtests/new/?strategy={strategy.pk}&amp;instruments=BBB"' in chooser
    html = client.get(URL, {"strategy": strategy.pk, "instruments": "BBB"}).content.decode()
    assert 'value="BBB" id="id_instruments_1" checked>' in html
    assert 'value="AAA" id="id_instruments_0">' in html
