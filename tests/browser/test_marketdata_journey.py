"""An operator proves their second factor at sign-in and imports bar files."""

from __future__ import annotations

from backtesting.marketdata.models import Bar
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

    page.click(".site-nav >> text=Import bars")
    page.wait_for_selector("h1:has-text('Import bars')")
    screenshot(page, "30-marketdata-import")
    upload(page, "acme.csv", GOOD_ROWS)
    report = page.inner_text("#import-report")
    assert "Imported ACME 1d" in report and "5 valid of 5 rows; inserted 5" in report
    assert Bar.objects.filter(instrument__symbol="ACME").count() == 5
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
    assert Bar.objects.filter(instrument__symbol="ACME").count() == 5  # nothing written


def test_a_trader_is_refused_the_import_page(live_server, page, browser_log) -> None:
    TraderFactory(username="tess")
    sign_in(page, live_server.url, "tess", DEFAULT_PASSWORD)
    assert page.locator(".site-nav >> text=Import bars").count() == 0
    browser_log.allow(r"status of 403 .*/marketdata/import/\)$")
    response = page.goto(f"{live_server.url}/marketdata/import/")
    assert response is not None and response.status == 403
    assert page.inner_text("main h1") == "Forbidden"
