"""A trader starts a strategy from a template, breaks it, fixes it and compares versions."""

from __future__ import annotations

from tests.browser.conftest import BROWSER_MARKS, screenshot, sign_in
from tests.factories import DEFAULT_PASSWORD, TraderFactory

pytestmark = BROWSER_MARKS

ALLOWED_IMPORT = "from strategy import "


def test_a_trader_creates_edits_fixes_and_diffs_a_strategy(live_server, page) -> None:
    TraderFactory(username="tess")
    sign_in(page, live_server.url, "tess", DEFAULT_PASSWORD)

    page.click(".site-nav >> text=Strategies")
    page.wait_for_selector("h1:has-text('Strategies')")
    assert "No strategies yet." in page.inner_text("main")
    page.click("main >> text=New strategy")
    page.select_option("select[name=template]", "sma_crossover")
    page.click(".template-picker button")
    page.wait_for_url("**/strategies/new/?template=sma_crossover")
    assert page.input_value("input[name=name]") == "SMA crossover"
    template_code = page.input_value("textarea[name=code]")
    assert "class SmaCrossover(Strategy)" in template_code
    screenshot(page, "10-strategy-new-from-template")
    page.click("main button:has-text('Create strategy')")

    page.wait_for_selector("text=Created “SMA crossover” (version 1).")
    assert "version 1 of 1" in page.inner_text("main")
    screenshot(page, "11-strategy-detail-v1")
    page.click("text=← Strategies")
    row = page.locator("table.strategy-list tbody tr")
    assert row.count() == 1
    assert "SMA crossover" in row.inner_text() and "v1" in row.inner_text()
    screenshot(page, "12-strategy-list")

    row.locator("a").click()
    page.click(".actions >> text=Edit")
    broken = template_code.replace(ALLOWED_IMPORT, f"import os\n{ALLOWED_IMPORT}", 1)
    forbidden_line = broken.splitlines().index("import os") + 1
    page.fill("textarea[name=code]", broken)
    page.click("main button:has-text('Save')")

    page.wait_for_selector("#problems")
    problems = page.inner_text("#problems ol")
    assert f"line {forbidden_line}, column 1" in problems and '"os" is not allowed' in problems
    marked = page.locator(f"#problems tr#L{forbidden_line}")
    assert "has-problem" in (marked.get_attribute("class") or "")
    assert "import os" in marked.inner_text()
    assert "forbidden_import" in page.inner_text("#problems .problem-row")
    screenshot(page, "13-strategy-edit-problems")

    fixed = template_code.replace("Param(30,", "Param(40,", 1)
    page.fill("textarea[name=code]", fixed)
    page.click("main button:has-text('Save')")
    page.wait_for_selector("text=Saved as version 2.")
    assert "version 2 of 2" in page.inner_text("main")

    page.click("text=diff with v1")
    page.wait_for_selector("h1:has-text('changes from v1 to v2')")
    assert page.locator(".diff .diff-removed", has_text="Param(30,").count() == 1
    assert page.locator(".diff .diff-added", has_text="Param(40,").count() == 1
    assert page.locator(".diff", has_text="import os").count() == 0  # the rejected edit
    screenshot(page, "14-strategy-diff")
