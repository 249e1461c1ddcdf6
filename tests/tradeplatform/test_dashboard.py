"""The front page: the marketing page for visitors, the dashboard once signed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from backtesting.marketdata.models import SeriesVersion
from backtesting.models import Backtest, BacktestResult
from strategies.library import example_list
from tests.factories import BarFactory, InstrumentFactory, StrategyFactory, ViewerFactory

pytestmark = pytest.mark.django_db

START = datetime(2020, 1, 1, tzinfo=UTC)


def make_backtest(owner: Any, *, status: str = "succeeded", metrics: dict | None = None,
                  name: str | None = None, age_minutes: int = 0) -> Backtest:  # fmt: skip
    """A backtest row (and its result when `metrics` is given), as a finished run leaves them."""
    strategy: Any = StrategyFactory(owner=owner, **({"name": name} if name else {}))
    backtest = Backtest.objects.create(
        owner=owner,
        strategy_version=strategy.versions.get(),
        symbols=["AAA"],
        timeframe="1d",
        start=START,
        end=START + timedelta(days=365),
        status=status,
        queued_at=timezone.now() - timedelta(minutes=age_minutes),
    )
    if metrics is not None:
        BacktestResult.objects.create(backtest=backtest, metrics=metrics)
    return backtest


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_visitor_sees_the_marketing_page_with_sign_up_and_sign_in():
    body = Client().get("/").content.decode()
    assert "Research, test and trust your trading strategies" in body
    assert 'href="/accounts/signup/"' in body and ">Create a free account<" in body
    assert 'href="/accounts/login/"' in body
    assert "Recent backtests" not in body


def test_with_registration_closed_the_marketing_page_offers_only_sign_in(settings):
    settings.REGISTRATION_OPEN = False
    body = Client().get("/").content.decode()
    assert "Create a free account" not in body
    assert "New accounts are by invitation" in body
    assert 'class="button button-large" href="/accounts/login/"' in body


def test_a_new_user_sees_the_three_steps_with_every_template(owner):
    body = signed_in(owner).get("/").content.decode()
    assert "Your first backtest in three steps" in body
    for step in ("Pick a template", "Run it", "Read it"):
        assert f"<h3>{step}</h3>" in body
    for example in example_list():
        assert f'href="/strategies/new/?template={example.slug}"' in body
    assert "No backtests yet." in body
    assert "No strategies yet." in body
    assert 'href="/backtests/new/"' in body and ">New backtest<" in body
    assert 'href="/strategies/new/"' in body and ">New strategy<" in body


def test_the_dashboard_shows_my_backtests_with_headline_metrics_as_people_read_them(owner):
    mine = make_backtest(
        owner, name="Trend rider",
        metrics={"total_return": 0.168466, "sharpe_ratio": 1.23456, "max_drawdown": -0.081},
    )  # fmt: skip
    running = make_backtest(owner, status="running", name="Still going", age_minutes=-1)
    Backtest.objects.filter(pk=running.pk).update(progress=0.42)
    body = signed_in(owner).get("/").content.decode()

    assert "Your first backtest in three steps" not in body
    assert f'href="/backtests/{mine.pk}/"' in body and "Trend rider" in body
    assert "+16.85 %" in body  # a fraction of 0.168466, not 16.8466 %
    assert "1.23<" in body
    assert "-8.10 %" in body
    assert '<span class="badge badge-succeeded">Succeeded</span>' in body
    assert f'href="/backtests/{running.pk}/"' in body
    assert '<span class="badge badge-running">Running</span>' in body
    assert "42 % done" in body
    # Newest first: the running one was queued after the finished one.
    assert body.index("Still going") < body.index("Trend rider")


def test_the_dashboard_never_shows_another_users_backtests_or_strategies(owner, other_user):
    make_backtest(owner, name="Mine", metrics={"total_return": 0.1})
    theirs = make_backtest(other_user, name="Not yours", metrics={"total_return": 0.5})
    body = signed_in(owner).get("/").content.decode()
    assert "Mine" in body
    assert "Not yours" not in body
    assert f'href="/backtests/{theirs.pk}/"' not in body
    assert f'href="/strategies/{theirs.strategy_version.strategy_id}/"' not in body


def test_the_dashboard_lists_at_most_eight_backtests_newest_first(owner):
    for n in range(10):
        make_backtest(owner, name=f"Run {n:02d}", age_minutes=100 - n)
    body = signed_in(owner).get("/").content.decode()
    assert body.count('class="backtest-row"') == 8
    assert "Run 09" in body and "Run 02" in body
    assert "Run 01" not in body and "Run 00" not in body


def test_the_dashboard_shows_data_coverage_at_a_glance(owner):
    for symbol in ("AAA", "BBB"):
        instrument = InstrumentFactory(symbol=symbol)
        for day in (0, 1, 2):
            BarFactory(instrument=instrument, timestamp=START + timedelta(days=day))
        SeriesVersion.objects.create(instrument=instrument, timeframe="1d", version=1)
    hourly = InstrumentFactory(symbol="CCC")
    BarFactory(instrument=hourly, timeframe="1h", timestamp=START + timedelta(days=40, hours=3))
    SeriesVersion.objects.create(instrument=hourly, timeframe="1h", version=1)
    # A series row whose bars are gone, and an inactive instrument, count for nothing.
    SeriesVersion.objects.create(instrument=InstrumentFactory(symbol="EMPTY"), timeframe="1d")
    retired = InstrumentFactory(symbol="OLD", is_active=False)
    BarFactory(instrument=retired, timestamp=datetime(2001, 1, 1, tzinfo=UTC))
    SeriesVersion.objects.create(instrument=retired, timeframe="1d", version=1)

    body = signed_in(owner).get("/").content.decode()
    assert '<dd class="stat-value coverage-instruments">3</dd>' in body
    assert '<dd class="stat-value coverage-timeframes">1h, 1d</dd>' in body
    assert '<dd class="coverage-dates">2020-01-01 → 2020-02-10</dd>' in body


def test_without_market_data_the_dashboard_says_what_to_do(owner):
    body = signed_in(owner).get("/").content.decode()
    assert "No market data yet" in body and "Ask an operator to import some." in body


def test_a_viewer_is_not_offered_buttons_that_would_refuse_them(db):
    body = signed_in(ViewerFactory(username="vera")).get("/").content.decode()
    assert "Recent backtests" in body
    assert 'href="/backtests/new/"' not in body and 'href="/strategies/new/"' not in body


def test_the_dashboard_reads_a_bounded_number_of_queries(owner, django_assert_max_num_queries):
    for n in range(8):
        make_backtest(owner, name=f"Run {n}", metrics={"total_return": n / 100})
    InstrumentFactory(symbol="AAA")
    client = signed_in(owner)
    # Session and user, backtests, their metrics, strategies, coverage: not one per row.
    with django_assert_max_num_queries(6):
        response = client.get("/")
    assert response.content.decode().count('class="backtest-row"') == 8


def test_the_header_marks_the_dashboard_as_the_current_section(owner):
    body = signed_in(owner).get("/").content.decode()
    assert '<a href="/" aria-current="page">Dashboard</a>' in body
    assert '<a href="/strategies/">Strategies</a>' in body
    assert 'class="nav-user"' in body
    # Two-factor and password live on the account page, not in the header.
    assert ">Two-factor<" not in body and ">Password<" not in body
