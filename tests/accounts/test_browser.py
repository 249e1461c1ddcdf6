"""Sign-up, sign-in and sign-out in a real Chromium (Playwright)."""

from __future__ import annotations

from tests.browser import conftest as shared

# The Chromium launch and the console/CSP checks are the ones tests/browser/ uses.
pytestmark = shared.BROWSER_MARKS
browser = shared.browser
browser_log = shared.browser_log
page = shared.page


def test_sign_up_sign_out_and_sign_in_again(live_server, page):
    page.goto(f"{live_server.url}/accounts/signup/")
    page.fill("input[name=username]", "dora")
    page.fill("input[name=email]", "dora@example.com")
    page.fill("input[name=password]", "Vq7-plover-tangent")
    page.click("button[type=submit]")
    page.wait_for_selector(".nav-user")
    assert page.inner_text(".nav-user") == "dora"
    page.click("text=Sign out")
    page.wait_for_selector("text=Sign in")
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "dora@example.com")
    page.fill("input[name=password]", "Vq7-plover-tangent")
    page.click("button[type=submit]")
    page.wait_for_selector(".nav-user")
