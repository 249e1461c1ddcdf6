"""A trader chooses a strategy, fills the run form (the instrument filter, the timeframe
narrowed to the chosen instruments' data) and lands on the queued backtest's page.

No worker runs: the task's publish is stubbed, so the backtest stays queued.
"""

from __future__ import annotations

from typing import Any

from backtesting.models import Backtest
from tests.backtesting.conftest import seed_bars
from tests.backtesting.test_views_new import seed_hourly
from tests.browser.conftest import BROWSER_MARKS, screenshot, sign_in
from tests.factories import DEFAULT_PASSWORD, StrategyFactory, TraderFactory

pytestmark = BROWSER_MARKS

ENABLED_TIMEFRAMES = (
    "[...document.querySelectorAll('#id_timeframe option:not([disabled])')].map(o => o.value)"
)


def no_sideways_scroll(page: Any, shot: str = "") -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    if shot:
        screenshot(page, shot)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_trader_filters_instruments_and_runs_a_backtest(live_server, page, monkeypatch) -> None:
    from backtesting import tasks

    sent: list[Any] = []
    monkeypatch.setattr(
        tasks.backtest_execute_task, "apply_async", lambda *a, **k: sent.append((a, k))
    )
    trader = TraderFactory(username="tom")
    seed_bars("AAA", n=120)
    seed_bars("BBB", n=120, seed=2)
    seed_hourly("HHH")
    StrategyFactory.create(owner=trader, name="Trend")
    StrategyFactory.create(owner=trader, name="Mean reversion")
    sign_in(page, live_server.url, "tom", DEFAULT_PASSWORD)

    page.goto(f"{live_server.url}/backtests/new/")
    page.fill("#strategy-q", "tre")  # narrows as you type
    assert page.is_hidden("li[data-name='mean reversion']")
    no_sideways_scroll(page, "backtest-choose-390")
    page.click("a[aria-label='Run Trend']")
    page.wait_for_selector("form.backtest-form[data-ready=true]")
    assert page.input_value("input[name=param_fast]") == "10"  # the declared default
    assert page.input_value("input[name=commission_pct]") == "0.1"
    assert page.input_value("input[name=slippage_bps]") == "5"

    page.fill("#instrument-filter", "hh")
    assert page.is_hidden("label[data-symbol=BBB]") and page.is_visible("label[data-symbol=HHH]")
    page.check("label[data-symbol=HHH] input")
    assert page.evaluate(ENABLED_TIMEFRAMES) == ["1h", "4h", "1d", "1w"]
    page.select_option("#id_timeframe", "1h")
    assert page.input_value("#id_start") == "2015-03-02"
    page.uncheck("label[data-symbol=HHH] input")
    page.fill("#instrument-filter", "b")
    page.check("label[data-symbol=BBB] input")
    # BBB has daily bars only: hourly timeframes go, the choice moves to 1d, dates follow.
    assert page.evaluate(ENABLED_TIMEFRAMES) == ["1d", "1w"]
    assert page.input_value("#id_timeframe") == "1d"
    assert (page.input_value("#id_start"), page.input_value("#id_end")) == (
        "2015-01-01",
        "2015-04-30",
    )
    assert "2015-01-01 to 2015-04-30" in page.inner_text("#range-hint")
    page.fill("input[name=param_fast]", "7")
    page.fill("#instrument-filter", "")
    screenshot(page, "backtest-new")
    no_sideways_scroll(page, "backtest-new-390")
    page.click("form.backtest-form button[type=submit]")

    page.wait_for_selector("h1:has-text('Backtest ')")
    backtest = Backtest.objects.get()
    assert page.url == f"{live_server.url}/backtests/{backtest.pk}/"
    assert backtest.symbols == ["BBB"] and backtest.timeframe == "1d"
    assert backtest.parameters == {"fast": 7, "slow": 20}
    assert backtest.settings["costs"] == {
        "commission_fixed": 0.0, "commission_pct": 0.001, "commission_min": 0.0,
        "spread_bps": 0.0, "slippage_bps": 5.0,
    }  # fmt: skip
    assert f"Backtest {backtest.pk} is queued." in page.inner_text(".messages")
    assert sent and sent[0][0] == ((backtest.pk,),)


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
    assert "Must be at most 400." in page.inner_text("#row-param_slow")
    assert "Nothing was run" in page.inner_text(".form-summary")
    assert page.input_value("input[name=param_slow]") == "999"  # what was typed stays
    page.locator("#row-param_slow").scroll_into_view_if_needed()
    screenshot(page, "backtest-new-errors", full_page=False)
    no_sideways_scroll(page)
    assert not Backtest.objects.exists()
