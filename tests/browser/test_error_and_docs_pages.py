"""The friendly 404 page and the API docs (Swagger UI), both free of console and CSP errors."""

from __future__ import annotations

from tests.browser.conftest import BROWSER_MARKS, screenshot

pytestmark = BROWSER_MARKS


def test_an_unknown_url_shows_the_friendly_not_found_page(live_server, page, browser_log) -> None:
    browser_log.allow(r"status of 404 .*/no-such-page/\)$")
    response = page.goto(f"{live_server.url}/no-such-page/")

    assert response is not None and response.status == 404
    assert page.inner_text("main h1") == "Page not found"
    reference = page.inner_text(".error-page code")
    assert reference and reference == response.headers["x-request-id"]
    assert page.inner_text(".brand") == "tradeplatform"  # the site layout, not a bare error
    screenshot(page, "40-not-found")
    page.click("text=Back to the start page")
    page.wait_for_url(f"{live_server.url}/")


def test_the_api_docs_render_swagger_ui(live_server, page) -> None:
    page.goto(live_server.url)
    with page.expect_response(
        lambda r: r.url.startswith(f"{live_server.url}/api/schema/")
    ) as schema:
        page.click("footer >> text=API docs")
    assert schema.value.status == 200
    page.wait_for_selector(".swagger-ui .info .title")
    page.wait_for_selector(".swagger-ui .opblock-tag")
    assert "tradeplatform" in page.inner_text(".swagger-ui .info .title").lower()
    tags = page.locator(".swagger-ui .opblock-tag").all_inner_texts()
    assert any("backtest" in tag.lower() for tag in tags), tags
    # Swagger UI's own stylesheet applied (its layout would be bare HTML without it).
    assert page.eval_on_selector(".swagger-ui .opblock-tag", "e => getComputedStyle(e).display")
    # Opening an operation renders its parameters and responses (more of Swagger UI's code).
    page.click(".swagger-ui .opblock-summary:has-text('/api/v1/backtests/{id}/')")
    page.wait_for_selector(".swagger-ui .opblock.is-open .responses-wrapper")
    screenshot(page, "41-api-docs", full_page=False)  # the page is ~7000 px tall
