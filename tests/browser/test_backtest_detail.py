"""A trader watches a backtest run live, reads its metrics, sorts and pages its trades, on a
desktop and on a phone; a failed run shows the line of the strategy that broke."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from playwright.sync_api import expect

from backtesting import tasks
from backtesting.models import Backtest, BacktestResult, BacktestStatus, Trade
from backtesting.services import backtest_submit
from tests.backtesting.conftest import execute_job, make_input, seed_bars
from tests.browser.conftest import BROWSER_MARKS, screenshot, sign_in
from tests.factories import DEFAULT_PASSWORD, StrategyFactory, TraderFactory

pytestmark = BROWSER_MARKS


def no_horizontal_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= 390"))


def give_result_of(source: Backtest, target: Backtest) -> None:
    """Finish `target` with `source`'s stored result, as a worker would have."""
    result = BacktestResult.objects.get(pk=source.pk)
    result.pk = None
    result.backtest_id = target.pk
    result.save(force_insert=True)
    Backtest.objects.filter(pk=target.pk).update(
        status=BacktestStatus.SUCCEEDED, progress=1.0, finished_at=timezone.now(),
        engine_version=source.engine_version, data_fingerprint=source.data_fingerprint,
    )  # fmt: skip


def many_trades(backtest: Backtest, n: int) -> None:
    """`n` trades whose net P&L rises with seq (seq i: i*10 - 500)."""
    Trade.objects.filter(backtest=backtest).delete()
    t0 = datetime(2015, 2, 1, tzinfo=UTC)
    Trade.objects.bulk_create(
        Trade(backtest=backtest, seq=i, symbol="AAA", direction="long", size=10,
              entry_time=t0 + timedelta(days=i), entry_price=100.0,
              exit_time=t0 + timedelta(days=i + 1), exit_price=101.0,
              net_pnl=i * 10.0 - 500, net_pnl_pct=(i * 10.0 - 500) / 10, bars_held=1)
        for i in range(1, n + 1)
    )  # fmt: skip


def first_seq(page: Any) -> str:
    return str(page.locator(".trades-table tbody tr").first.get_attribute("data-seq"))


def test_a_running_backtest_updates_without_reload_then_shows_its_results(
    live_server, page, monkeypatch
) -> None:
    monkeypatch.setattr(tasks.backtest_execute_task, "apply_async", lambda *a, **k: None)
    trader = TraderFactory(username="tom")
    seed_bars("AAA", n=300)
    version = StrategyFactory.create(owner=trader, name="Trend").versions.get()
    finished = execute_job(backtest_submit(owner=trader, data=make_input(version)).pk)
    running = backtest_submit(owner=trader, data=make_input(version, parameters={"fast": 7}))
    Backtest.objects.filter(pk=running.pk).update(
        status=BacktestStatus.RUNNING, progress=0.3, started_at=timezone.now()
    )
    sign_in(page, live_server.url, "tom", DEFAULT_PASSWORD)

    page.goto(f"{live_server.url}/backtests/{running.pk}/")
    assert page.inner_text("[data-live=status]") == "Running"
    assert page.inner_text("[data-live=percent]") == "30 %"
    page.evaluate("window.__stillTheSamePage = true")
    screenshot(page, "backtest-running")

    Backtest.objects.filter(pk=running.pk).update(progress=0.7)
    expect(page.locator("[data-live=percent]")).to_have_text("70 %")
    assert page.get_attribute("[data-live=progress]", "value") is not None
    assert page.evaluate("document.querySelector('[data-live=progress]').value") == 0.7
    assert page.evaluate("window.__stillTheSamePage === true")  # updated in place, no navigation

    give_result_of(finished, running)
    page.wait_for_selector(".metric-cards")  # the page reloaded once, with the results
    assert page.inner_text("[data-live=status]") == "Succeeded"
    total = page.inner_text(".metric-card [data-metric=total_return]")
    assert total.endswith(" %") and total[0] in "+-0"
    assert page.locator("#metrics-summary [data-metric]").count() >= 50


def test_trades_sort_and_page_and_the_pages_fit_a_phone(live_server, page, monkeypatch) -> None:
    monkeypatch.setattr(tasks.backtest_execute_task, "apply_async", lambda *a, **k: None)
    trader = TraderFactory(username="tom")
    seed_bars("AAA", n=300)
    version = StrategyFactory.create(owner=trader, name="Trend").versions.get()
    done = execute_job(backtest_submit(owner=trader, data=make_input(version)).pk)
    many_trades(done, 120)
    failed = backtest_submit(owner=trader, data=make_input(version, parameters={"fast": 9}))
    Backtest.objects.filter(pk=failed.pk).update(
        status=BacktestStatus.FAILED, finished_at=timezone.now(), error_code="runtime_error",
        error_message="ZeroDivisionError: division by zero",
        error_details={"traceback": ["line 6, in next"], "user_fault": True},
    )  # fmt: skip
    sign_in(page, live_server.url, "tom", DEFAULT_PASSWORD)

    page.goto(f"{live_server.url}/backtests/{done.pk}/")
    assert page.inner_text(".trades-count") == "Showing 1\u201350 of 120 trades."
    page.click(".trades-table th >> text=Net P&L")
    page.wait_for_url("**sort=net_pnl**")
    assert first_seq(page) == "1"
    page.click(".trades-table th >> text=Net P&L")  # again: descending
    page.wait_for_url("**sort=-net_pnl**")
    assert first_seq(page) == "120"
    page.click(".pagination >> text=Next")
    page.wait_for_url("**page=2**")
    assert first_seq(page) == "70"
    assert page.inner_text(".trades-count") == "Showing 51\u2013100 of 120 trades."
    page.goto(f"{live_server.url}/backtests/{done.pk}/")
    screenshot(page, "backtest-detail")
    page.emulate_media(color_scheme="dark")
    screenshot(page, "backtest-detail-dark", full_page=False)
    page.emulate_media(color_scheme="light")

    page.goto(f"{live_server.url}/backtests/{failed.pk}/")
    failing = page.locator(".bt-code-line.is-failing")
    assert failing.locator(".bt-code-no").inner_text() == "6"
    screenshot(page, "backtest-failed")

    page.goto(f"{live_server.url}/backtests/")
    assert page.locator("input[name=ids]").count() == 1  # only the succeeded one compares
    screenshot(page, "backtest-list")

    page.set_viewport_size({"width": 390, "height": 844})
    for url in (f"/backtests/{done.pk}/", f"/backtests/{failed.pk}/", "/backtests/"):
        page.goto(f"{live_server.url}{url}")
        assert no_horizontal_scroll(page), url
    page.goto(f"{live_server.url}/backtests/{done.pk}/")
    screenshot(page, "backtest-detail-phone")
