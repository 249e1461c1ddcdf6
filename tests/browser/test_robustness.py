"""A Monte Carlo test started from the backtest page: the run page follows its progress, then
draws the percentile bands and the three histograms with the data the server stored, with a
table as their text alternative, and fits a phone's width."""

from __future__ import annotations

from typing import Any

from backtesting.robustness.execution import robustness_execute
from backtesting.robustness.models import RobustnessRun
from backtesting.robustness.services import robustness_submit
from backtesting.services import backtest_submit
from tests.backtesting.conftest import execute_job, make_input, seed_bars
from tests.browser.conftest import BROWSER_MARKS, screenshot, sign_in
from tests.factories import DEFAULT_PASSWORD, StrategyFactory, TraderFactory

pytestmark = BROWSER_MARKS

HELD = """() => {
  const r = window.tpRobustness;
  const bars = (drawn) => drawn.chart.getOption().series[0].data.map((bar) => bar.value);
  return {
    median: r.bands.lines[2].data().map((p) => p.value),
    lines: r.bands.lines.length,
    actual: r.bands.actual.data().length,
    final_return: bars(r.final_return),
    max_drawdown: bars(r.max_drawdown),
    sharpe: bars(r.sharpe),
  };
}"""


def _finished_backtest() -> Any:
    trader = TraderFactory(username="tom")
    seed_bars("AAA", n=500)
    version = StrategyFactory.create(owner=trader, name="Trend").versions.get()
    done = execute_job(backtest_submit(owner=trader, data=make_input(version)).pk)
    assert done.status == "succeeded" and done.trades.count() > 5
    return done


def test_a_monte_carlo_run_page_draws_the_bands_and_histograms_it_stored(live_server, page):
    done = _finished_backtest()
    sign_in(page, live_server.url, "tom", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/backtests/{done.pk}/")
    page.locator("#robustness").scroll_into_view_if_needed()
    screenshot(page, "robustness-box", full_page=False)
    form = page.locator("form.rb-form", has=page.locator("input[value=monte_carlo]"))
    form.locator("select[name=method]").select_option("bootstrap")
    form.locator("input[name=n_runs]").fill("500")
    form.locator("input[name=seed]").fill("11")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#rb-status progress")  # queued: the page follows its progress

    run = robustness_execute(run_id=RobustnessRun.objects.get().pk)  # the worker's part
    page.wait_for_selector("body[data-charts-ready='1']")  # reloaded once it finished

    data = run.result.data
    held = page.evaluate(HELD)
    assert run.parameters == {"method": "bootstrap", "n_runs": 500, "seed": 11}
    assert held["lines"] == 5 and held["actual"] == len(data["bands"]["actual"])
    assert held["median"] == data["bands"]["values"][2]
    for name in ("final_return", "max_drawdown", "sharpe"):
        assert held[name] == data["distributions"][name]["histogram"]["counts"], name
    table = page.locator(".rb-table").inner_text().lower()
    assert "final return" in table and "max drawdown" in table and "median" in table
    assert "of the resampled paths the strategy lost money" in page.inner_text("main")
    screenshot(page, "robustness-montecarlo")

    page.set_viewport_size({"width": 390, "height": 900})
    page.wait_for_timeout(200)  # the charts follow the new width
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "robustness-montecarlo-390")

    page.emulate_media(color_scheme="dark")
    page.wait_for_timeout(200)  # the charts restyle on the next frame
    background = page.evaluate(
        "getComputedStyle(document.querySelector('.rb-chart')).backgroundColor"
    )
    assert background != "rgb(255, 255, 255)"
    screenshot(page, "robustness-montecarlo-dark", full_page=False)


def test_the_random_entry_and_lookahead_pages_show_their_verdicts(live_server, page):
    done = _finished_backtest()
    chance = robustness_submit(
        owner=done.owner,
        backtest=done,
        kind="random_entry",
        parameters={"n_strategies": 200, "seed": 3},
    )
    lookahead = robustness_submit(
        owner=done.owner, backtest=done, kind="lookahead", parameters={"n_checks": 2, "seed": 3}
    )
    chance = robustness_execute(run_id=chance.pk)
    lookahead = robustness_execute(run_id=lookahead.pk)
    sign_in(page, live_server.url, "tom", DEFAULT_PASSWORD)

    page.goto(f"{live_server.url}/research/robustness/{chance.pk}/")
    page.wait_for_selector("body[data-charts-ready='1']")
    bins = page.evaluate(
        "() => window.tpRobustness.chance.chart.getOption().series[0].data.map((b) => b.value)"
    )
    assert bins == chance.result.data["histogram"]["counts"]
    assert "if the entries were random" in page.inner_text(".rb-verdict")
    screenshot(page, "robustness-random-entry")

    page.goto(f"{live_server.url}/research/robustness/{lookahead.pk}/")
    assert "No look-ahead found in 2 checks" in page.inner_text(".rb-verdict")
