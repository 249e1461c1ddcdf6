"""Every chart on a finished backtest's page holds the data the server sent: candles, exact
trade markers and the strategy's indicator lines per symbol, equity with its benchmark,
drawdown, the monthly returns heatmap and the trade-return histogram; each with a text
alternative, in light and dark, at a phone's width."""

from __future__ import annotations

from typing import Any

from backtesting.services import backtest_submit
from tests.backtesting.conftest import execute_job, make_input, seed_bars
from tests.backtesting.test_indicator_charts import OSCILLATOR
from tests.browser.conftest import BROWSER_MARKS, screenshot, sign_in
from tests.factories import DEFAULT_PASSWORD, StrategyFactory, TraderFactory

pytestmark = BROWSER_MARKS

HELD = """() => {
  const c = window.tpCharts;
  const echartsData = (drawn, i) => drawn.chart.getOption().series[i].data;
  return {
    equity: c.equity.series.data().length,
    benchmark: c.equity.benchmark.data().length,
    drawdown: c.drawdown.series.data().length,
    candles: c.price.candles.data().length,
    volume: c.price.volume.data().length,
    markers: c.price.markers.markers().length,
    indicators: c.price.indicators.map((line) => [line.name, line.series.data().length]),
    monthCells: echartsData(c.monthly, 0).length,
    yearTotals: echartsData(c.monthly, 1).length,
    bins: echartsData(c.returns, 0).map((bar) => bar.value),
  };
}"""


def _finished_two_symbol_backtest() -> Any:
    trader = TraderFactory(username="tom")
    seed_bars("AAA", n=600)
    seed_bars("BBB", n=450, seed=2)
    version = StrategyFactory.create(owner=trader, name="Trend").versions.get()
    data = make_input(version, symbols=["AAA", "BBB"])
    done = execute_job(backtest_submit(owner=trader, data=data).pk)
    assert done.status == "succeeded" and done.trades.count() > 5
    return done


def test_every_chart_holds_the_data_the_server_sent(live_server, page) -> None:
    done = _finished_two_symbol_backtest()
    sign_in(page, live_server.url, "tom", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/backtests/{done.pk}/")
    page.wait_for_selector("body[data-charts-ready='1']")

    base = f"{live_server.url}/backtests/{done.pk}"
    sent = page.request.get(f"{base}/charts.json").json()
    prices = page.request.get(f"{base}/prices.json?symbol=AAA").json()
    trades = done.trades.filter(symbol="AAA")
    assert len(prices["markers"]) == trades.count() + trades.filter(is_open=False).count()
    months = [m for row in sent["monthly_returns"] for m in row["months"] if m is not None]
    held = page.evaluate(HELD)
    assert held == {
        "equity": len(sent["equity"]),
        "benchmark": len(sent["benchmark"]["points"]),
        "drawdown": len(sent["drawdown"]),
        "candles": len(prices["candles"]),
        "volume": len(prices["volume"]),
        "markers": len(prices["markers"]),
        "indicators": [[line["name"], len(line["points"])] for line in prices["indicators"]],
        "monthCells": len(months),
        "yearTotals": len(sent["monthly_returns"]),
        "bins": [b["count"] for b in sent["trade_returns"]["bins"]],
    }
    assert held["candles"] == 600 and held["monthCells"] >= 12 and held["yearTotals"] == 2
    # The sample strategy's two SMAs (fast=5, slow=20 in make_input): one point per candle
    # from each one's first value on.
    assert held["indicators"] == [["sma_fast", 600 - 4], ["sma_slow", 600 - 19]]
    assert page.inner_text("#indicator-legend").split() == ["━", "sma_fast", "━", "sma_slow"]
    assert "indicators sma_fast and sma_slow" in page.inner_text("#price-summary")
    page.locator("#price-block").scroll_into_view_if_needed()
    screenshot(page, "backtest-indicators", full_page=False)

    # Text alternatives: each chart is described by a sentence or a data table.
    described_by = {
        "#price-chart": "price-summary",
        "#equity-chart": "equity-summary",
        "#drawdown-chart": "drawdown-summary",
        "#monthly-chart": "monthly-table",
        "#returns-chart": "returns-summary",
    }
    for chart, description in described_by.items():
        assert page.get_attribute(chart, "aria-describedby") == description
        assert (page.locator(f"#{description}").text_content() or "").strip(), description
    assert "buy and hold AAA" in page.inner_text(".charts")
    assert page.locator("#monthly-table tbody tr").count() == 2
    returns = sent["trade_returns"]
    assert f"{returns['winners']} winners" in page.inner_text("#returns-summary")
    screenshot(page, "backtest-charts")

    # Crosshair and tooltips: the price under the pointer as text; ECharts' tooltips drawn on
    # the canvas (an HTML tooltip's inline styles would be CSP violations, failing this test).
    page.hover("#price-chart", position={"x": 400, "y": 120})
    page.wait_for_function("() => document.querySelector('#price-readout').textContent !== ''")
    assert page.inner_text("#price-readout").startswith("O ")
    page.hover("#monthly-chart")
    page.hover("#returns-chart", position={"x": 200, "y": 200})
    screenshot(page, "backtest-charts-tooltip", full_page=False)

    # Another symbol of the run: its own candles, and no marker (the strategy traded AAA).
    page.select_option("#price-symbol", "BBB")
    page.wait_for_function("() => document.querySelector('#price-chart').dataset.candles === '450'")
    assert page.evaluate("() => window.tpCharts.price.markers.markers().length") == 0
    # The SMAs were computed on AAA's closes: BBB's candles carry none, and the legend goes.
    assert page.evaluate("() => window.tpCharts.price.indicators.length") == 0
    assert page.locator("#indicator-legend").is_hidden()

    csv = page.request.get(f"{base}/equity.csv")
    assert csv.status == 200 and csv.text().count("\n") == 1 + len(done.equity_curve["timestamps"])


def test_the_charts_follow_the_window_and_the_colour_scheme(live_server, page) -> None:
    done = _finished_two_symbol_backtest()
    sign_in(page, live_server.url, "tom", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/backtests/{done.pk}/")
    page.wait_for_selector("body[data-charts-ready='1']")
    wide = page.evaluate("() => window.tpCharts.monthly.chart.getWidth()")

    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_function(
        "w => window.tpCharts.monthly.chart.getWidth() < w"
        " && document.querySelector('#equity-chart canvas').getBoundingClientRect().width < 390",
        arg=wide,
    )
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    screenshot(page, "backtest-charts-390")

    page.set_viewport_size({"width": 1280, "height": 900})
    light = page.evaluate("() => window.tpCharts.equity.chart.options().layout.background.color")
    heat = page.evaluate(
        "() => window.tpCharts.monthly.chart.getOption().visualMap[0].inRange.color"
    )
    page.emulate_media(color_scheme="dark")
    page.wait_for_function(
        "c => window.tpCharts.equity.chart.options().layout.background.color !== c", arg=light
    )
    page.wait_for_function(
        "c => JSON.stringify(window.tpCharts.monthly.chart.getOption().visualMap[0].inRange.color)"
        " !== JSON.stringify(c)",
        arg=heat,
    )
    screenshot(page, "backtest-charts-dark")


def test_an_oscillator_is_drawn_in_a_pane_of_its_own(live_server, page) -> None:
    trader = TraderFactory(username="tom")
    seed_bars("AAA", n=300)
    version = StrategyFactory.create(owner=trader, code=OSCILLATOR).versions.get()
    done = execute_job(backtest_submit(owner=trader, data=make_input(version)).pk)
    assert done.status == "succeeded"
    sign_in(page, live_server.url, "tom", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/backtests/{done.pk}/")
    page.wait_for_selector("body[data-charts-ready='1']")
    panes = page.evaluate("""() => window.tpCharts.price.indicators.map(
        (line) => [line.name, line.series.getPane().paneIndex()])""")
    assert panes == [["RSI <14>", 2], ["trend", 0]]  # candles and volume are panes 0 and 1
    assert "RSI <14>" in page.inner_text("#indicator-legend")  # the user's text, as text
    page.locator("#price-block").scroll_into_view_if_needed()
    screenshot(page, "backtest-indicators-pane", full_page=False)
