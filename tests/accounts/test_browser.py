"""Sign-up, sign-in and sign-out in a real Chromium (Playwright)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is not installed at /usr/bin"),
]


@pytest.fixture
def page():
    playwright_api = pytest.importorskip("playwright.sync_api")
    # Playwright runs an event loop; Django's async-safety check would refuse our ORM calls.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser.new_page()
        browser.close()


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
