"""The account page on a 390 px phone: readable, and no sideways scrolling."""

from __future__ import annotations

from tests.browser.conftest import BROWSER_MARKS, screenshot, sign_in
from tests.factories import DEFAULT_PASSWORD, TraderFactory

pytestmark = BROWSER_MARKS


def test_the_account_page_fits_a_390px_phone(live_server, page) -> None:
    TraderFactory(username="phoebe", display_name="Phoebe P.")
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server.url, "phoebe", DEFAULT_PASSWORD)

    page.click(".site-menu-button")  # at 390 px the header's links are behind its menu
    page.click(".site-nav >> text=Account")
    page.wait_for_selector("#api-heading")

    assert "phoebe" in page.inner_text(".api-obtain")
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 390, f"the page scrolls sideways: {scroll_width}px wide"
    screenshot(page, "account-390")
