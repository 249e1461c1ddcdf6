"""A newcomer's whole journey in the browser, against a real Celery worker.

Sign up, land on the dashboard, create a strategy from a template, break it and see the
inline error at its line without saving, fix it, run a backtest and watch the page follow it
without reloading, read every chart (checking what the chart libraries hold, not only that a
canvas exists), sort and page the trades, download them as CSV, run a second backtest and
compare the two, open a market-data chart, sign out. Screenshots of each step are saved.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from backtesting.models import Backtest, BacktestStatus, Trade
from strategies.models import Strategy, StrategyVersion
from tests.backtesting.conftest import seed_bars
from tests.browser.conftest import BROWSER_MARKS, BrowserLog, screenshot

# The browser fixtures, reused here beside the real worker (re-exported names are fixtures).
from tests.browser.conftest import browser as browser
from tests.browser.conftest import browser_log as browser_log
from tests.browser.conftest import page as page

pytestmark = BROWSER_MARKS

EDITOR = ".code-editor-host .cm-content"
RUN_TIMEOUT_MS = 60_000  # a real worker on a busy 2-core box; the page polls meanwhile

CHARTS_HELD = """() => {
  const c = window.tpCharts;
  const series = (drawn, i) => drawn.chart.getOption().series[i].data.length;
  return {
    equity: c.equity.series.data().length,
    benchmark: c.equity.benchmark.data().length,
    drawdown: c.drawdown.series.data().length,
    candles: c.price.candles.data().length,
    markers: c.price.markers.markers().length,
    monthCells: series(c.monthly, 0),
    bins: series(c.returns, 0),
  };
}"""

# Reports each change of the live status badge to the console, where the test collects it:
# the page's own script must change it in place, before its single reload at the end.
WATCH_BADGE = """() => {
  const badge = document.querySelector("[data-live=status]");
  new MutationObserver(() => console.log(`badge:${badge.textContent.trim()}`))
    .observe(badge, { childList: true, characterData: true, subtree: true });
}"""


def _run_from_form(page: Any, base: str, strategy: Strategy, **params: str) -> Backtest:
    page.goto(f"{base}/backtests/new/?strategy={strategy.pk}")
    page.wait_for_selector("form.backtest-form[data-ready=true]")
    page.check("input[name=instruments][value=AAA]")
    for name, value in params.items():
        page.fill(f"input[name=param_{name}]", value)
    before = set(Backtest.objects.values_list("pk", flat=True))
    page.click("form.backtest-form button[type=submit]")
    page.wait_for_selector("#live-status")
    [new] = Backtest.objects.exclude(pk__in=before)
    return new


def _follow_live_status(page: Any, base: str, backtest: Backtest) -> list[str]:
    """Wait for the run to finish on its page; return what the badge showed on the way."""
    seen: list[str] = []
    page.on("console", lambda m: seen.append(m.text[6:]) if m.text.startswith("badge:") else None)
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    page.evaluate(WATCH_BADGE)
    page.wait_for_selector("body[data-charts-ready='1']", timeout=RUN_TIMEOUT_MS)
    backtest.refresh_from_db()
    assert backtest.status == BacktestStatus.SUCCEEDED, backtest.error_message
    # The badge changed in place (no reload) and the page reloaded once, at the end.
    assert seen and seen[-1] == "Succeeded", seen
    assert navigations == [f"{base}/backtests/{backtest.pk}/"], navigations
    return seen


def test_a_newcomer_goes_from_sign_up_to_a_compared_pair_of_backtests(
    live_server, page, browser_log: BrowserLog, celery_worker
) -> None:
    base = live_server.url
    seed_bars("AAA", n=2500)

    # Sign up; the dashboard greets a new user with three steps.
    page.goto(base)
    page.click("main >> text=Create a free account")
    page.fill("input[name=username]", "nova")
    page.fill("input[name=email]", "nova@example.com")
    page.fill("input[name=password]", "a-long-passphrase-2026")
    page.click("main button[type=submit]")
    page.wait_for_selector("h1:has-text('Dashboard')")
    assert "Your first backtest in three steps" in page.inner_text("main")
    screenshot(page, "journey-01-dashboard-new-user")

    # Step 1: a template. Break it in the editor; Validate shows the problem at its line.
    page.click("a.template-link:has-text('SMA crossover')")
    page.wait_for_selector(".code-editor-host[data-editor-ready=true]")
    create_url = page.url
    page.locator(f"{EDITOR} .cm-line", has_text="from strategy import").first.click()
    page.keyboard.press("Home")
    page.keyboard.type("import os")
    page.keyboard.press("Enter")
    line = page.input_value("textarea[name=code]").splitlines().index("import os") + 1
    page.click("#validate-button")
    page.wait_for_selector("#code-check.problems ol")
    assert f"line {line}, column 1" in page.inner_text("#code-check")
    marked = page.locator(f"{EDITOR} .cm-line:has(.cm-lintRange-error)")
    assert marked.count() == 1 and marked.inner_text() == "import os"
    assert page.url == create_url and not StrategyVersion.objects.exists()  # nothing saved
    screenshot(page, "journey-02-inline-error")
    page.click(f"#code-check a:has-text('line {line}, column 1')")
    page.keyboard.press("Shift+Control+k")  # delete the line
    page.click("#validate-button")
    page.wait_for_selector("#code-check.no-problems")
    page.click("main button:has-text('Create strategy')")
    page.wait_for_selector("text=Created “SMA crossover” (version 1).")
    strategy = Strategy.objects.get(owner__username="nova")
    assert "import os" not in strategy.versions.get().code

    # Step 2: run it; the page follows the run without reloading until it is done.
    first = _run_from_form(page, base, strategy, fast="4", slow="12")
    screenshot(page, "journey-03-queued")
    _follow_live_status(page, base, first)

    # Step 3: read it. Every chart holds what the server sent.
    sent = page.request.get(f"{base}/backtests/{first.pk}/charts.json").json()
    held = page.evaluate(CHARTS_HELD)
    assert held["equity"] == len(sent["equity"]) > 100
    assert held["benchmark"] == len(sent["benchmark"]["points"])
    assert held["drawdown"] == len(sent["drawdown"])
    assert held["candles"] == len(sent["prices"]["candles"]) > 100
    assert held["markers"] == len(sent["prices"]["markers"]) > 0
    assert held["monthCells"] > 12 and held["bins"] == len(sent["trade_returns"]["bins"])
    assert "Total return" in page.inner_text(".bt-cards, main")
    screenshot(page, "journey-04-result")

    # Trades: sorted by net P&L with a click, then the second page.
    trades = Trade.objects.filter(backtest=first)
    assert trades.count() > 50  # so there is a second page
    page.click("#trades th a[data-sort=net_pnl]")
    page.wait_for_url("**sort=net_pnl**")
    worst_first = list(trades.order_by("net_pnl", "seq").values_list("seq", flat=True))
    first_cells = page.locator("#trades tbody tr td:first-child").all_inner_texts()
    assert [int(c) for c in first_cells] == worst_first[: len(first_cells)]
    page.click("#trades a[rel=next]")
    page.wait_for_url("**page=2**")
    second_cells = page.locator("#trades tbody tr td:first-child").all_inner_texts()
    assert [int(c) for c in second_cells] == worst_first[50 : 50 + len(second_cells)]
    screenshot(page, "journey-05-trades-sorted-page-2")

    # Every trade as CSV.
    with page.expect_download() as download:
        page.click("a.trades-csv")
    with open(download.value.path(), encoding="utf-8") as downloaded:
        rows = list(csv.DictReader(io.StringIO(downloaded.read())))
    assert len(rows) == trades.count()

    # A second run with other parameters, then the two compared.
    second = _run_from_form(page, base, strategy, fast="10", slow="40")
    _follow_live_status(page, base, second)
    page.click(".site-nav >> text=Backtests")
    page.check(f"input[name=ids][value='{first.pk}']")
    page.check(f"input[name=ids][value='{second.pk}']")
    page.click("#compare-form button:has-text('Compare selected')")
    page.wait_for_selector("[data-ready=true]")
    drawn = page.evaluate("() => window.tpCompare.equity.series.map((s) => s.data()[0].value)")
    assert drawn == [100, 100]
    table = page.inner_text("table.compare-table")
    assert f"#{first.pk}" in table and f"#{second.pk}" in table
    screenshot(page, "journey-06-compare")

    # Market data: a candle chart of the instrument.
    page.click(".site-nav >> text=Market data")
    page.click("main a:has-text('AAA')")
    page.wait_for_selector("[data-ready=true]")
    assert page.evaluate("() => window.tpCharts.marketdata.candles.data().length") > 100
    screenshot(page, "journey-07-market-data")

    # Sign out.
    page.click(".site-nav >> text=Sign out")
    page.wait_for_selector(".site-nav >> text=Sign in")
    assert page.locator(".nav-user").count() == 0
    browser_log.assert_clean()
