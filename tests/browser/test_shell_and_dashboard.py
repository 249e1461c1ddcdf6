"""The site shell and the dashboard in Chromium: the header's menu at 390 px, no sideways
scrolling on the pages every visitor meets, and the dashboard a user lands on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from backtesting.marketdata.models import SeriesVersion
from tests.browser.conftest import BROWSER_MARKS, screenshot, sign_in
from tests.factories import DEFAULT_PASSWORD, BarFactory, InstrumentFactory, TraderFactory
from tests.tradeplatform.test_dashboard import make_backtest

pytestmark = BROWSER_MARKS

PHONE = {"width": 390, "height": 844}


def assert_no_sideways_scroll(page, name: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} scrolls sideways at 390 px: {width}px wide"


def test_the_dashboard_and_its_header_menu_on_a_phone(live_server, page) -> None:
    user = TraderFactory(username="quinn", display_name="Quinn Quant")
    backtest = make_backtest(
        user, name="Trend rider",
        metrics={"total_return": 0.168466, "sharpe_ratio": 1.2345, "max_drawdown": -0.081},
    )  # fmt: skip
    make_backtest(user, status="failed", name="A broken idea", age_minutes=5)
    instrument: Any = InstrumentFactory(symbol="GOOG")
    BarFactory(instrument=instrument, timestamp=datetime(2015, 1, 2, tzinfo=UTC))
    BarFactory(instrument=instrument, timestamp=datetime(2024, 12, 31, tzinfo=UTC))
    SeriesVersion.objects.create(instrument=instrument, timeframe="1d", version=1)

    sign_in(page, live_server.url, "quinn", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/")
    row = page.locator(f'tr[data-backtest-id="{backtest.pk}"]')
    assert "+16.85 %" in row.inner_text() and "Succeeded" in row.inner_text()
    assert page.inner_text(".coverage-dates") == "2015-01-02 → 2024-12-31"
    assert page.locator(".site-menu-button").is_hidden()  # wide screen: the links show inline
    screenshot(page, "dashboard")
    page.emulate_media(color_scheme="dark")
    screenshot(page, "dashboard-dark")
    page.emulate_media(color_scheme="light")

    page.set_viewport_size(PHONE)
    button = page.locator(".site-menu-button")
    nav = page.locator(".site-nav")
    assert button.is_visible() and button.get_attribute("aria-expanded") == "false"
    assert nav.is_hidden()
    assert page.locator(".nav-user").is_visible()
    assert_no_sideways_scroll(page, "the dashboard")
    screenshot(page, "dashboard-390")

    button.focus()
    page.keyboard.press("Enter")  # a real button: the keyboard opens it
    assert button.get_attribute("aria-expanded") == "true" and nav.is_visible()
    assert nav.locator('a[aria-current="page"]').inner_text() == "Dashboard"
    screenshot(page, "dashboard-390-menu", full_page=False)
    page.keyboard.press("Escape")
    assert button.get_attribute("aria-expanded") == "false" and nav.is_hidden()

    button.click()
    nav.get_by_role("link", name="Strategies").click()
    page.wait_for_url(f"{live_server.url}/strategies/")
    page.locator(".site-menu-button").click()
    assert page.locator('.site-nav a[aria-current="page"]').inner_text() == "Strategies"


def test_the_front_door_pages_fit_a_390px_phone(live_server, page) -> None:
    TraderFactory(username="nina-with-a-rather-long-name", display_name="Nina Long-Display-Name")
    page.goto(f"{live_server.url}/")
    assert page.locator("main .button", has_text="Create a free account").is_visible()
    screenshot(page, "home")
    page.set_viewport_size(PHONE)
    front_door = (("home", "/"), ("login", "/accounts/login/"), ("signup", "/accounts/signup/"))
    for name, path in front_door:
        page.goto(f"{live_server.url}{path}")
        assert_no_sideways_scroll(page, name)
    screenshot(page, "signup-390")
    page.goto(f"{live_server.url}/")
    screenshot(page, "home-390")
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    assert "/accounts/2fa/" in page.inner_text("#two-factor-help")
    assert_no_sideways_scroll(page, "the admin's sign-in")
    screenshot(page, "admin-login-390")

    sign_in(page, live_server.url, "nina-with-a-rather-long-name", DEFAULT_PASSWORD)
    for name, path in (("dashboard", "/"), ("account", "/accounts/")):
        page.goto(f"{live_server.url}{path}")
        assert_no_sideways_scroll(page, name)
    page.goto(f"{live_server.url}/")
    assert page.locator(".getting-started").is_visible()  # a new user: the three steps
    screenshot(page, "dashboard-new-user-390")
