"""A walk-forward started from a backtest's page: the form comes prefilled, the detail page
follows its progress, then draws the stitched out-of-sample equity (exactly the stored points)
against buy-and-hold with the windows' table, and fits a phone's width."""

from __future__ import annotations

from typing import Any

from backtesting.services import backtest_submit
from backtesting.walkforward.execution import walkforward_execute
from backtesting.walkforward.models import WalkForward
from tests.backtesting.conftest import execute_job, make_input, seed_bars
from tests.browser.conftest import BROWSER_MARKS, screenshot, sign_in
from tests.factories import DEFAULT_PASSWORD, StrategyFactory, TraderFactory

pytestmark = BROWSER_MARKS

HELD = """() => {
  const w = window.tpWalkForward;
  return {
    equity: w.equity.data().map((p) => [p.time, p.value]),
    hold: w.hold.data().map((p) => p.value),
  };
}"""


def _finished_backtest() -> Any:
    trader = TraderFactory(username="wanda")
    seed_bars("AAA", n=240)
    version = StrategyFactory.create(owner=trader, name="Trend").versions.get()
    done = execute_job(backtest_submit(owner=trader, data=make_input(version)).pk)
    assert done.status == "succeeded"
    return done


def test_a_walkforward_from_a_backtest_draws_the_stitched_equity_it_stored(live_server, page):
    done = _finished_backtest()
    sign_in(page, live_server.url, "wanda", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/backtests/{done.pk}/")
    page.get_by_role("link", name="Walk-forward").click()
    form = page.locator("#sweep-form")
    assert form.locator("input[name=instruments]").input_value() == "AAA"
    for name, value in {"in_sample_bars": "80", "out_of_sample_bars": "40", "step_bars": "40",
                        "min_fast": "3", "max_fast": "5", "step_fast": "2",
                        "min_slow": "10", "max_slow": "20", "step_slow": "10"}.items():  # fmt: skip
        form.locator(f"input[name={name}]").fill(value)
    form.locator("select[name=objective]").select_option("total_return")
    screenshot(page, "walkforward-new")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#wf-status progress")  # queued: the page follows its progress

    walkforward = walkforward_execute(walkforward_id=WalkForward.objects.get().pk)
    page.wait_for_selector("body[data-charts-ready='1']")  # reloaded once it finished

    assert walkforward is not None and walkforward.status == "succeeded"
    curve = walkforward.result.curve
    held = page.evaluate(HELD)
    assert held["equity"] == [list(p) for p in zip(curve["t"], curve["equity"], strict=True)]
    assert held["hold"] == curve["buy_and_hold"]
    assert len(held["equity"]) == 160  # 4 windows of 40 out-of-sample daily bars
    assert page.locator("tr[data-window]").count() == 4
    assert "Walk-forward efficiency" in page.inner_text("#wf-efficiency")
    screenshot(page, "walkforward")

    page.set_viewport_size({"width": 390, "height": 900})
    page.wait_for_timeout(200)  # the chart follows the new width
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "walkforward-390")
