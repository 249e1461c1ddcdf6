"""`manage.py load_demo` gives a newcomer a user, real bars and the examples; reruns are no-ops."""

import io

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from backtesting.marketdata.models import Bar, Instrument
from backtesting.models import Backtest
from strategies.models import Strategy

pytestmark = pytest.mark.django_db


def run_load_demo() -> str:
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def test_load_demo_creates_a_demo_trader_with_real_data_and_examples():
    output = run_load_demo()
    assert "sign in as 'demo' with password 'demo-trader-2026'" in output
    demo = get_user_model().objects.get(username="demo")
    assert authenticate(username="demo", password="demo-trader-2026") == demo
    symbols = set(Instrument.objects.values_list("symbol", flat=True))
    assert symbols >= {"AAPL", "GOOG", "IBM", "MSFT"}
    assert Bar.objects.filter(instrument__symbol="GOOG").count() == 2148
    assert Strategy.objects.filter(owner=demo).count() >= 6


def test_load_demo_leaves_a_finished_backtest_of_every_example_to_read():
    run_load_demo()

    demo = get_user_model().objects.get(username="demo")
    strategies = Strategy.objects.filter(owner=demo)
    backtests = Backtest.objects.filter(owner=demo).select_related("result")
    assert backtests.count() == strategies.count()
    assert {b.strategy_version.strategy_id for b in backtests} == {s.pk for s in strategies}
    for backtest in backtests:
        assert backtest.status == "succeeded", (backtest.strategy_version, backtest.error_message)
        assert backtest.result.metrics["total_return"] is not None
        assert backtest.settings["costs"]["commission_pct"] == 0.001
    portfolio = backtests.get(strategy_version__strategy__name="Momentum rotation")
    assert sorted(portfolio.symbols) == ["AAPL", "GOOG", "IBM", "MSFT"]


def test_load_demo_twice_changes_nothing():
    run_load_demo()

    def counts() -> tuple[int, int, int, int]:
        return (
            get_user_model().objects.count(),
            Bar.objects.count(),
            Strategy.objects.count(),
            Backtest.objects.count(),
        )

    before = counts()
    run_load_demo()
    assert counts() == before
