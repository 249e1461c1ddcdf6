"""The editor's Validate button when the request itself fails: a message, never a silent no-op."""

from __future__ import annotations

from tests.browser.conftest import BROWSER_MARKS, sign_in
from tests.factories import DEFAULT_PASSWORD, TraderFactory

pytestmark = BROWSER_MARKS


def test_validate_explains_a_failed_request_and_keeps_the_code(live_server, page, browser_log):
    browser_log.allow(r"status of 400|Failed to load resource")
    TraderFactory(username="val")
    sign_in(page, live_server.url, "val", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/strategies/new/?template=sma_crossover")
    page.wait_for_selector(".code-editor-host[data-editor-ready=true]")
    code = page.input_value("textarea[name=code]")

    refusal = '{"error": "Ensure this value has at most 100000 characters."}'
    page.route(
        "**/strategies/validate.json",
        lambda route: route.fulfill(status=400, content_type="application/json", body=refusal),
    )
    page.click("#validate-button")
    page.wait_for_selector("#code-check .code-check-error")
    assert page.inner_text("#code-check") == (
        "Could not validate the code. Ensure this value has at most 100000 characters."
    )

    page.unroute("**/strategies/validate.json")
    page.route("**/strategies/validate.json", lambda route: route.abort())
    page.click("#validate-button")
    page.wait_for_selector("#code-check:has-text('could not be reached')")
    assert page.is_enabled("#validate-button")  # ready to try again
    assert page.input_value("textarea[name=code]") == code
