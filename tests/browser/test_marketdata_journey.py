"""Market data in the browser: a trader browses instruments and reads a candle chart; an
operator proves their second factor at sign-in and imports bar files."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from backtesting.marketdata.models import Bar, Instrument
from backtesting.marketdata.services import bars_import
from tests.browser.conftest import BROWSER_MARKS, screenshot, sign_in
from tests.factories import (
    DEFAULT_PASSWORD,
    InstrumentFactory,
    OperatorFactory,
    TraderFactory,
    totp_code,
    totp_device_for,
)
from tests.marketdata.conftest import GOOD_ROWS, make_csv

pytestmark = BROWSER_MARKS

# Line 1 is the header: line 3 does not parse, line 4 has its high below its low.
BAD_ROWS = [GOOD_ROWS[0], "2024-01-03,x,106,101,102,1100", "2024-01-04,102,99,100,101,900"]


def upload(page, name: str, rows: list[str]) -> None:
    page.select_option("select[name=instrument]", "ACME")
    page.set_input_files(
        "input[name=file]", {"name": name, "mimeType": "text/csv", "buffer": make_csv(rows)}
    )
    page.click("main form button[type=submit]")
    page.wait_for_selector("#import-report")


def test_an_operator_signs_in_with_a_code_and_imports_a_good_and_a_bad_file(
    live_server, page, browser_log
) -> None:
    operator = OperatorFactory(username="olga")
    device = totp_device_for(operator)
    InstrumentFactory(symbol="ACME")

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "olga")
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_selector(".errorlist")  # two-factor is on: the password alone is not enough
    assert "Two-factor authentication is on" in page.inner_text(".errorlist")
    assert page.locator(".nav-user").count() == 0
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.fill("input[name=otp]", totp_code(device))
    page.click("main button[type=submit]")
    page.wait_for_selector(".nav-user")

    page.goto(f"{live_server.url}/marketdata/")  # operators find the upload on the list
    page.click("main >> text=Import bars")
    page.wait_for_selector("h1:has-text('Import bars')")
    screenshot(page, "30-marketdata-import")
    upload(page, "acme.csv", GOOD_ROWS)
    report = page.inner_text("#import-report")
    assert "Imported ACME 1d" in report and "5 valid of 5 rows; inserted 5" in report
    assert Bar.objects.filter(instrument__symbol="ACME").count() == 5
    chart_link = page.locator("#import-report a", has_text="Open the ACME 1d chart")
    assert chart_link.get_attribute("href") == "/marketdata/ACME/?timeframe=1d"
    screenshot(page, "31-marketdata-imported")

    # A rejected file answers 400, which Chromium logs as a failed resource load.
    browser_log.allow(r"status of 400 .*/marketdata/import/\)$")
    upload(page, "broken.csv", BAD_ROWS)
    assert "Nothing was imported" in page.inner_text("#import-report h2")
    rejected = page.locator("#import-report table").first.locator("tbody tr")
    lines = [row.locator("td").first.inner_text() for row in rejected.all()]
    assert lines == ["3", "4"]
    assert "parse_error" in rejected.nth(0).inner_text()
    screenshot(page, "32-marketdata-rejected")
    page.set_viewport_size({"width": 390, "height": 844})
    assert_no_sideways_scroll(page)
    assert Bar.objects.filter(instrument__symbol="ACME").count() == 5  # nothing written


def test_a_trader_is_refused_the_import_page(live_server, page, browser_log) -> None:
    TraderFactory(username="tess")
    sign_in(page, live_server.url, "tess", DEFAULT_PASSWORD)
    assert page.locator(".site-nav >> text=Import bars").count() == 0
    browser_log.allow(r"status of 403 .*/marketdata/import/\)$")
    response = page.goto(f"{live_server.url}/marketdata/import/")
    assert response is not None and response.status == 403
    assert page.inner_text("main h1") == "Forbidden"


def import_weekdays(symbol: str, name: str, start: date, count: int, *, hole_after: int) -> None:
    """`count` daily bars on weekdays from `start` (a random walk); when `hole_after` >= 0, the
    five weekdays after that bar are missing: one gap the page must mark."""
    instrument = Instrument.objects.create(symbol=symbol, name=name, timezone="America/New_York")
    days: list[date] = []
    day = start
    while len(days) < count + 5:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    days = days[: hole_after + 1] + days[hole_after + 6 :] if hole_after >= 0 else days[:count]
    rng = np.random.default_rng(7)
    close = 50 * np.exp(np.cumsum(rng.normal(0.0004, 0.015, len(days))))
    volume = rng.integers(100_000, 900_000, len(days))
    rows = []
    for i, d in enumerate(days):
        o, c = (close[i - 1] if i else close[0]), close[i]
        hi, lo = max(o, c) * 1.006, min(o, c) * 0.994
        rows.append(f"{d:%Y-%m-%d},{o:.2f},{hi:.2f},{lo:.2f},{c:.2f},{volume[i]}")
    bars_import(instrument=instrument, source=make_csv(rows), timeframe="1d", skip_invalid=True)


def chart_state(page) -> dict[str, int]:
    """What the chart library holds, and what the page's endpoint sent (fetched again)."""
    page.wait_for_selector("#md-chart[data-ready=true]")
    held = page.evaluate(
        """() => ({candles: window.tpCharts.marketdata.candles.data().length,
                   volume: window.tpCharts.marketdata.volume.data().length,
                   markers: window.tpCharts.marketdata.markers.markers().length})"""
    )
    url = page.get_attribute("#md-chart", "data-bars-url")
    sent = page.request.get(page.url.split("/marketdata/")[0] + url).json()
    return {**held, "sent": len(sent["candles"]), "per_candle": sent["bucket"]["bars_per_candle"]}


def assert_no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{page.url} scrolls sideways at 390 px ({width} px wide)"


def test_a_trader_browses_instruments_and_reads_a_candle_chart(live_server, page) -> None:
    TraderFactory(username="tess")
    import_weekdays("ACME", "Acme Corporation", date(2012, 1, 2), 2600, hole_after=1200)
    import_weekdays("BOLT", "Bolt Industries", date(2020, 1, 6), 40, hole_after=-1)
    sign_in(page, live_server.url, "tess", DEFAULT_PASSWORD)

    page.goto(f"{live_server.url}/marketdata/")
    acme = page.locator("#instrument-table tr[data-symbol=ACME]")
    assert "2,600" in acme.inner_text() and "2012-01-02" in acme.inner_text()
    screenshot(page, "marketdata-list")

    acme.locator("a.md-symbol").click()
    page.wait_for_selector("h1:has-text('ACME')")
    state = chart_state(page)
    # 2,600 bars are more than the 2,000 drawn: two bars a candle, and every candle is held.
    assert state["per_candle"] == 2
    assert state["candles"] == state["sent"] == state["volume"] == 1300
    assert state["markers"] == 1
    assert page.inner_text("#gaps-title").startswith("Gaps: 1")
    assert page.locator("#latest-bars tbody tr").count() == 20
    screenshot(page, "marketdata-instrument")
    page.emulate_media(color_scheme="dark")  # the chart takes the dark tokens without a reload
    screenshot(page, "marketdata-instrument-dark")
    page.emulate_media(color_scheme="light")

    page.click(".md-switcher a[data-timeframe='1w']")
    page.wait_for_selector(".md-switcher a.is-current[data-timeframe='1w']")
    weekly = chart_state(page)
    assert weekly["per_candle"] == 1 and weekly["candles"] == weekly["sent"]
    assert 500 < weekly["candles"] < 540  # ten years of weeks, one missing

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/marketdata/ACME/")
    chart_state(page)
    assert_no_sideways_scroll(page)
    screenshot(page, "marketdata-instrument-390")
    page.goto(f"{live_server.url}/marketdata/")
    assert_no_sideways_scroll(page)
    screenshot(page, "marketdata-list-390")
