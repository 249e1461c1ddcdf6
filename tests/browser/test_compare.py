"""A trader picks two finished backtests and compares them: the metrics side by side with the
best of each row marked, both equity curves rebased to 100 on one chart, both drawdowns."""

from __future__ import annotations

from typing import Any

from backtesting.services import backtest_submit
from tests.backtesting.conftest import END, execute_job, make_input, seed_bars
from tests.browser.conftest import BROWSER_MARKS, screenshot, sign_in
from tests.factories import DEFAULT_PASSWORD, StrategyFactory, TraderFactory

pytestmark = BROWSER_MARKS

DRAWN = """() => Object.fromEntries(Object.entries(window.tpCompare).map(([name, chart]) =>
  [name, chart.series.map((s) => ({ first: s.data()[0].value, points: s.data().length }))]))"""


def run_two_backtests(trader: Any) -> list[Any]:
    seed_bars("AAA", n=400)
    version = StrategyFactory.create(owner=trader, name="Trend").versions.get()
    runs = []
    for fast, cash in ((5, 10_000.0), (15, 250_000.0)):  # different cash: rebasing matters
        data = make_input(version, end=END, parameters={"fast": fast, "slow": 30},
                          settings={"initial_cash": cash})  # fmt: skip
        runs.append(execute_job(backtest_submit(owner=trader, data=data).pk))
    return runs


def test_a_trader_compares_two_backtests(live_server, page, monkeypatch) -> None:
    from backtesting import tasks

    monkeypatch.setattr(tasks.backtest_execute_task, "apply_async", lambda *a, **k: None)
    trader = TraderFactory(username="tom")
    first, second = run_two_backtests(trader)
    assert first.status == second.status == "succeeded"
    sign_in(page, live_server.url, "tom", DEFAULT_PASSWORD)

    page.goto(f"{live_server.url}/backtests/compare/?ids={first.pk}")
    assert "Choose 2 to 4 backtests" in page.inner_text("[role=alert]")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 900})
    page.check(f"input[name=ids][value='{first.pk}']")
    page.check(f"input[name=ids][value='{second.pk}']")
    assert page.inner_text("#picker-count") == "2 ticked."
    page.click(".compare-picker-form button[type=submit]")
    page.wait_for_selector(".compare-charts[data-ready=true]")

    drawn = page.evaluate(DRAWN)
    data = page.evaluate(
        "url => fetch(url).then(r => r.json())",
        f"/backtests/compare.json?ids={first.pk}&ids={second.pk}",
    )
    # Both runs on each chart, every point the endpoint sent, equity starting at 100.
    assert [s["first"] for s in drawn["equity"]] == [100, 100]
    assert [s["points"] for s in drawn["equity"]] == [len(s["equity"]) for s in data["series"]]
    assert [s["points"] for s in drawn["drawdown"]] == [len(s["drawdown"]) for s in data["series"]]
    assert all(s["points"] > 100 for s in drawn["equity"])
    table = page.inner_text(".compare-table")
    assert f"#{first.pk}" in table and f"#{second.pk}" in table and "Total return" in table
    assert page.locator("tr[data-metric=total_return] .best-mark").count() >= 1
    assert page.locator("tr[data-metric=n_trades] .best-mark").count() == 0  # neutral
    screenshot(page, "compare")

    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "compare-390", full_page=False)
    page.emulate_media(color_scheme="dark")
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot(page, "compare-dark", full_page=False)
