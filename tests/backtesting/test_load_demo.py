"""`manage.py load_demo` gives a newcomer a user, real bars and the examples; reruns are no-ops."""

import io

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from backtesting.marketdata.models import Bar, Instrument
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


def test_load_demo_twice_changes_nothing():
    run_load_demo()

    def counts() -> tuple[int, int, int]:
        return get_user_model().objects.count(), Bar.objects.count(), Strategy.objects.count()

    before = counts()
    run_load_demo()
    assert counts() == before
