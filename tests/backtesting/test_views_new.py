"""The "Run a backtest" page: a form in front of `backtest_submit`, with the owner, an
outsider, a viewer and an anonymous visitor. Celery never runs: the task is stubbed."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from backtesting.models import Backtest, BacktestStatus
from tests.factories import StrategyFactory, StrategyVersionFactory

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
    assert 'name="param_fast" value="10"' in html and 'min="2"' in html and 'max="200"' in html
    assert '<option value="AAA" selected>AAA</option>' in html  # the only instrument with data
    assert 'name="start" value="2015-01-01"' in html and 'name="end" value="2016-05-14"' in html
    assert 'name="initial_cash" value="100000.0"' in html
    assert "<script" not in html and "style=" not in html


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
        ({"initial_cash": "-5"}, None, "initial_cash"),
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
    assert message.split(": ")[-1].split(" (")[0] in response.content.decode()
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


def test_without_a_strategy_the_page_lists_the_strategies_to_choose_from(client, strategy) -> None:
    html = client.get(URL).content.decode()
    assert f'href="/backtests/new/?strategy={strategy.pk}"' in html and "Trend" in html


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
