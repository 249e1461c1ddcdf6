"""A trader starts a strategy from a template, breaks it, validates, fixes it and compares versions.

The editor is CodeMirror over the form's textarea: the test types into the editor as a person
would and checks what the textarea (the form field) holds, and what the database holds.
"""

from __future__ import annotations

from strategies.models import Strategy, StrategyVersion
from tests.browser.conftest import BROWSER_MARKS, screenshot, sign_in
from tests.factories import DEFAULT_PASSWORD, TraderFactory

pytestmark = BROWSER_MARKS

PHONE = {"width": 390, "height": 844}
EDITOR = ".code-editor-host .cm-content"


def code_in_form(page) -> str:
    return page.input_value("textarea[name=code]")


def editor_line(page, text: str):
    return page.locator(f"{EDITOR} .cm-line", has_text=text).first


def no_sideways_scroll(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_a_trader_writes_validates_fixes_and_diffs_a_strategy(live_server, page) -> None:
    TraderFactory(username="tess")
    sign_in(page, live_server.url, "tess", DEFAULT_PASSWORD)

    page.click(".site-nav >> text=Strategies")
    page.wait_for_selector("h1:has-text('Strategies')")
    assert "No strategies yet — start from a template." in page.inner_text("main")
    page.click("main >> text=Pick a template")
    page.click(".template-card:has-text('SMA crossover')")
    page.wait_for_url("**/strategies/new/?template=sma_crossover")
    page.wait_for_selector(".code-editor-host[data-editor-ready=true]")
    assert page.input_value("input[name=name]") == "SMA crossover"
    template_code = code_in_form(page)
    assert "class SmaCrossover(Strategy)" in template_code
    assert "class SmaCrossover(Strategy)" in page.inner_text(EDITOR)
    assert page.locator("textarea[name=code]").is_hidden()
    screenshot(page, "strategy-editor")

    # Break it in the editor: a forbidden import above the allowed one.
    create_url = page.url
    editor_line(page, "from strategy import").click()
    page.keyboard.press("Home")
    page.keyboard.type("import os")
    page.keyboard.press("Enter")
    forbidden_line = code_in_form(page).splitlines().index("import os") + 1
    page.click("#validate-button")
    page.wait_for_selector("#code-check.problems ol")
    problems = page.inner_text("#code-check")
    assert f"line {forbidden_line}, column 1" in problems and '"os" is not allowed' in problems
    marked = page.locator(f"{EDITOR} .cm-line:has(.cm-lintRange-error)")
    assert marked.count() == 1 and marked.inner_text() == "import os"
    assert page.locator(".cm-gutter-lint .cm-lint-marker-error").count() == 1
    assert page.url == create_url  # validated, not saved
    assert not Strategy.objects.exists() and not StrategyVersion.objects.exists()
    screenshot(page, "strategy-editor-problem")

    # The problem's link puts the cursor on the line; remove it there.
    page.click(f"#code-check a:has-text('line {forbidden_line}, column 1')")
    assert page.inner_text(f"{EDITOR} .cm-activeLine") == "import os"
    page.keyboard.press("Shift+Control+k")  # CodeMirror's delete-line
    assert "import os" not in code_in_form(page)

    # Tab indents the line in the editor (the form field follows); Shift+Tab takes it back.
    editor_line(page, "fast = Param(").click()
    page.keyboard.press("Tab")
    assert "\n        fast = Param(" in code_in_form(page)
    page.keyboard.press("Shift+Tab")
    assert code_in_form(page) == template_code
    # Escape, then Tab: keyboard users leave the editor (as the hint under the label says).
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Create strategy"
    assert code_in_form(page) == template_code

    page.click("#validate-button")
    page.wait_for_selector("#code-check.no-problems")
    assert page.inner_text("#code-check") == "No problems found."
    assert page.locator(f"{EDITOR} .cm-lintRange-error").count() == 0
    page.click("main button:has-text('Create strategy')")

    page.wait_for_selector("text=Created “SMA crossover” (version 1).")
    strategy = Strategy.objects.get()
    assert strategy.versions.get().code == template_code
    # The listing is coloured as in the editor, its lines (and #L<n> anchors) unchanged.
    page.wait_for_selector(".code-listing[data-highlighted=true]")
    class_line = template_code.splitlines().index("class SmaCrossover(Strategy):") + 1
    row = page.locator(f"tr#L{class_line} .line-text")
    assert row.inner_text() == "class SmaCrossover(Strategy):"
    assert row.locator(".tok-keyword").inner_text() == "class"
    assert row.locator(".tok-definition").inner_text() == "SmaCrossover"
    page.set_viewport_size(PHONE)
    assert no_sideways_scroll(page) <= PHONE["width"]
    page.set_viewport_size({"width": 1280, "height": 900})

    # Edit: a failed save shows the server's problems inline in the editor too.
    page.click(".actions >> text=Edit")
    page.wait_for_selector(".code-editor-host[data-editor-ready=true]")
    editor_line(page, "from strategy import").click()
    page.keyboard.press("Home")
    page.keyboard.type("import os")
    page.keyboard.press("Enter")
    page.click("main button:has-text('Save')")
    page.wait_for_selector(f"{EDITOR} .cm-lintRange-error")
    assert page.locator(f"{EDITOR} .cm-line:has(.cm-lintRange-error)").inner_text() == "import os"
    assert f"line {forbidden_line}, column 1" in page.inner_text("#code-check")
    assert strategy.versions.count() == 1
    page.set_viewport_size(PHONE)
    assert no_sideways_scroll(page) <= PHONE["width"]
    page.set_viewport_size({"width": 1280, "height": 900})

    page.click(f"#code-check a:has-text('line {forbidden_line}, column 1')")
    page.keyboard.press("Shift+Control+k")
    editor_line(page, "fast = Param(").click()
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.keyboard.type("# tuned for daily bars")
    page.click("main button:has-text('Save')")
    page.wait_for_selector("text=Saved as version 2.")
    assert "# tuned for daily bars" in strategy.versions.get(number=2).code
    screenshot(page, "strategy-detail")

    # Any two versions: the compare form on the detail page.
    page.select_option("#diff-from", "1")
    page.select_option("#diff-to", "2")
    page.click(".compare-form button")
    page.wait_for_selector("h1:has-text('changes from v1 to v2')")
    added = page.locator(".diff-table tr.diff-added")
    assert added.count() == 1 and "# tuned for daily bars" in added.inner_text()
    assert page.locator(".diff-table tr.diff-removed").count() == 0
    assert page.locator(".diff-table", has_text="import os").count() == 0  # the rejected edit
    screenshot(page, "strategy-diff")

    page.click("text=← SMA crossover")
    page.click("text=← Strategies")
    row = page.locator("table.strategy-list tbody tr")
    assert row.count() == 1 and "v2" in row.inner_text()
    run = row.locator("a:has-text('Run backtest')")
    assert run.get_attribute("href") == f"/backtests/new/?strategy={strategy.pk}"
    screenshot(page, "strategy-list")
    page.set_viewport_size(PHONE)
    assert no_sideways_scroll(page) <= PHONE["width"]
