"""A trader opens a strategy, runs a backtest from the form and lands on its queued detail page.

No worker runs: the task's publish is stubbed, so the backtest stays queued.
"""

from __future__ import annotations

from typing import Any

from backtesting.models import Backtest
from tests.backtesting.conftest import seed_bars
from tests.browser.conftest import BROWSER_MARKS, screenshot, sign_in
from tests.factories import DEFAULT_PASSWORD, StrategyFactory, TraderFactory

pytestmark = BROWSER_MARKS


def test_a_trader_runs_a_backtest_from_the_strategy_page(live_server, page, monkeypatch) -> None:
    from backtesting import tasks

    sent: list[Any] = []
    monkeypatch.setattr(
        tasks.backtest_execute_task, "apply_async", lambda *a, **k: sent.append((a, k))
    )
    trader = TraderFactory(username="tom")
    seed_bars("AAA", n=120)
    seed_bars("BBB", n=120, seed=2)
    StrategyFactory.create(owner=trader, name="Trend")
    sign_in(page, live_server.url, "tom", DEFAULT_PASSWORD)

    page.click(".site-nav >> text=Strategies")
    page.click("main a:has-text('Trend')")
    page.click("a:has-text('Run backtest')")
    page.wait_for_selector("h1:has-text('Run a backtest: Trend')")
    assert page.input_value("input[name=param_fast]") == "10"  # the declared default
    page.select_option("select[name=instruments]", ["BBB"])
    page.fill("input[name=param_fast]", "7")
    page.fill("input[name=commission_pct]", "0.1")
    screenshot(page, "22-backtest-form")
    page.click("form.backtest-form button[type=submit]")

    page.wait_for_selector("h1:has-text('Backtest ')")
    backtest = Backtest.objects.get()
    assert page.url == f"{live_server.url}/backtests/{backtest.pk}/"
    facts = page.inner_text("dl.facts")
    assert "Queued" in facts and "BBB (1d)" in facts and "fast=7, slow=20" in facts
    assert f"Backtest {backtest.pk} is queued." in page.inner_text(".messages")
    assert sent and sent[0][0] == ((backtest.pk,),)
    screenshot(page, "23-backtest-queued")


def test_a_bad_parameter_is_shown_next_to_its_field(live_server, page, monkeypatch) -> None:
    from backtesting import tasks

    monkeypatch.setattr(tasks.backtest_execute_task, "apply_async", lambda *a, **k: None)
    trader = TraderFactory(username="tom")
    seed_bars("AAA", n=60)
    strategy = StrategyFactory.create(owner=trader, name="Trend")
    sign_in(page, live_server.url, "tom", DEFAULT_PASSWORD)

    page.goto(f"{live_server.url}/backtests/new/?strategy={strategy.pk}")
    # Past the browser's own range hint, to see the service's message on the page.
    page.eval_on_selector("input[name=param_slow]", "el => el.removeAttribute('max')")
    page.fill("input[name=param_slow]", "999")
    page.click("form.backtest-form button[type=submit]")
    page.wait_for_selector(".errorlist")
    assert "Must be at most 400." in page.inner_text("form.backtest-form")
    assert not Backtest.objects.exists()
