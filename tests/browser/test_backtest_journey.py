"""A trader finds their backtests in the list and reads one's status, metrics and trades."""

from __future__ import annotations

from backtesting import tasks
from backtesting.metric_display import format_metric
from backtesting.services import backtest_submit
from tests.backtesting.conftest import execute_job, make_input, seed_bars
from tests.browser.conftest import BROWSER_MARKS, screenshot, sign_in
from tests.factories import DEFAULT_PASSWORD, StrategyFactory, TraderFactory

pytestmark = BROWSER_MARKS


def test_a_trader_reads_a_finished_backtest_from_the_list(live_server, page, monkeypatch) -> None:
    # Nothing is published: a Celery worker started by another test module would otherwise
    # run the job that this page must still show as queued.
    monkeypatch.setattr(tasks.backtest_execute_task, "apply_async", lambda *a, **k: None)
    trader = TraderFactory(username="tom")
    seed_bars("AAA", n=300)
    version = StrategyFactory.create(owner=trader, name="Trend").versions.get()
    done = execute_job(backtest_submit(owner=trader, data=make_input(version)).pk)
    assert done is not None and done.status == "succeeded"
    waiting = backtest_submit(owner=trader, data=make_input(version, parameters={"fast": 7}))
    sign_in(page, live_server.url, "tom", DEFAULT_PASSWORD)

    page.click(".site-nav >> text=Backtests")
    page.wait_for_selector("h1:has-text('My backtests')")
    rows = page.locator("main table tbody tr")
    assert rows.count() == 2
    queued = rows.filter(has=page.locator(f"a[href='/backtests/{waiting.pk}/']"))
    assert "Queued" in queued.inner_text()
    finished = rows.filter(has=page.locator(f"a[href='/backtests/{done.pk}/']"))
    assert "Succeeded" in finished.inner_text() and "Trend v1" in finished.inner_text()
    screenshot(page, "20-backtest-list")

    finished.locator("a").click()
    page.wait_for_selector(f"h1:has-text('Backtest {done.pk}: Trend v1')")
    assert page.inner_text("[data-live=status]") == "Succeeded"
    facts = page.inner_text(".bt-facts-grid")
    assert "AAA" in facts and "1d" in facts and "fast=5, slow=20" in facts
    assert done.data_fingerprint in facts
    metrics = page.locator("#metrics-summary")
    for label in ("Total return", "Sharpe ratio", "Max drawdown", "Trades"):
        assert metrics.locator("th", has_text=label).count() >= 1, label
    sharpe = page.inner_text("#metrics-summary [data-metric=sharpe_ratio]")
    assert done.metrics is not None
    assert sharpe == format_metric("sharpe_ratio", done.metrics["sharpe_ratio"])  # as read
    screenshot(page, "21-backtest-detail")

    csv_link = page.get_by_text("Download all trades (CSV)")
    response = page.request.get(f"{live_server.url}{csv_link.get_attribute('href')}")
    assert response.status == 200 and "text/csv" in response.headers["content-type"]
    assert response.text().count("\n") >= done.trades.count()


def test_another_trader_gets_the_not_found_page_for_my_backtest(
    live_server, page, browser_log
) -> None:
    owner = TraderFactory(username="tom")
    seed_bars("AAA", n=60)
    version = StrategyFactory.create(owner=owner).versions.get()
    mine = backtest_submit(owner=owner, data=make_input(version))
    TraderFactory(username="eve")
    sign_in(page, live_server.url, "eve", DEFAULT_PASSWORD)
    browser_log.allow(rf"status of 404 .*/backtests/{mine.pk}/\)$")

    response = page.goto(f"{live_server.url}/backtests/{mine.pk}/")
    assert response is not None and response.status == 404
    assert page.inner_text("h1") == "Page not found"
    page.click(".site-nav >> text=Backtests")
    assert "No backtests yet" in page.inner_text("main .empty-state")
