"""A newcomer signs up, signs out, and signs in again with their email address."""

from __future__ import annotations

from tests.browser.conftest import BROWSER_MARKS, screenshot

pytestmark = BROWSER_MARKS

PASSWORD = "Vq7-plover-tangent"


def test_a_newcomer_signs_up_signs_out_and_signs_in_with_the_email(live_server, page) -> None:
    page.goto(live_server.url)
    screenshot(page, "01-home-anonymous")
    page.click(".site-nav >> text=Sign up")
    page.fill("input[name=username]", "dora")
    page.fill("input[name=email]", "dora@example.com")
    page.fill("input[name=password]", PASSWORD)
    screenshot(page, "02-signup")
    page.click("main button[type=submit]")

    page.wait_for_selector(".nav-user")
    assert page.inner_text(".nav-user") == "dora"
    assert "Welcome! Your account is ready." in page.inner_text(".messages")
    screenshot(page, "03-home-signed-in")

    # Signing out is a POST (a GET link could be triggered from another site).
    with page.expect_request(lambda r: r.url.endswith("/accounts/logout/")) as logout:
        page.click(".site-nav >> text=Sign out")
    assert logout.value.method == "POST"
    page.wait_for_selector(".site-nav >> text=Sign in")
    assert page.locator(".nav-user").count() == 0

    page.click(".site-nav >> text=Sign in")
    page.fill("input[name=username]", "dora@example.com")
    page.fill("input[name=password]", PASSWORD)
    screenshot(page, "04-login")
    page.click("main button[type=submit]")
    page.wait_for_selector(".nav-user")
    nav = page.locator(".site-nav")
    assert page.inner_text(".nav-user") == "dora"
    for link in ("Dashboard", "Strategies", "Backtests", "Market data", "Account", "Sign out"):
        assert nav.get_by_text(link, exact=True).is_visible(), link
    assert nav.get_by_text("Sign in", exact=True).count() == 0


def test_wrong_password_keeps_the_visitor_on_the_login_page(live_server, page) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "nobody@example.com")
    page.fill("input[name=password]", "not-the-password")
    page.click("main button[type=submit]")
    page.wait_for_selector(".errorlist")
    assert page.url.endswith("/accounts/login/")
    assert page.locator(".nav-user").count() == 0
