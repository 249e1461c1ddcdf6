"""Shared Playwright fixtures: one headless Chromium per run, a fresh page per test.

Every page records console errors, uncaught exceptions, CSP violations and 5xx responses;
a browser test fails when any were recorded (the CSP forbids inline scripts and styles, so
a violation is a real bug, not noise). A test that expects an error response (the 404 page)
declares it with `browser_log.allow(...)`.

Other suites reuse these fixtures by importing them: `from tests.browser.conftest import page`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.components import CHROMIUM_PATH, component_require

CHROMIUM = CHROMIUM_PATH
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
# Test artefacts for a human to look at: under the checkout's git-ignored var/ by default.
SCREENSHOT_DIR = Path(
    os.environ.get("TP_SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "var" / "screenshots")
)
# Apply to every browser test module: `pytestmark = BROWSER_MARKS`.
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.requires_component("chromium"),  # fails in CI, skips loudly elsewhere
]
# A page's own script reports CSP violations to the console, where we collect them. Init
# scripts are injected by the DevTools protocol, so the page's CSP does not block this one.
_CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`
    + ` at ${e.sourceFile || e.documentURI}:${e.lineNumber}`);
});
"""


@dataclass
class BrowserLog:
    """What went wrong in the browser during one test."""

    problems: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)
    checked: bool = False

    def allow(self, pattern: str) -> None:
        """Expect problems matching `pattern` (a regex), e.g. the console line of a 404."""
        self.allowed.append(re.compile(pattern))

    def record(self, problem: str) -> None:
        if not any(p.search(problem) for p in self.allowed):
            self.problems.append(problem)

    def assert_clean(self) -> None:
        self.checked = True
        assert not self.problems, "The browser reported problems:\n" + "\n".join(self.problems)


def _on_console(log: BrowserLog, message: Any) -> None:
    if message.type in ("error", "assert"):
        where = message.location.get("url", "")
        log.record(f"console.{message.type}: {message.text} ({where})")


def _on_response(log: BrowserLog, response: Any) -> None:
    if response.status >= 500:
        log.record(f"HTTP {response.status} {response.request.method} {response.url}")


# Module scope, not session: a suite elsewhere that imports these fixtures gets its own
# copy of this one, and Playwright allows only one running sync instance at a time.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    component_require("chromium")
    from playwright import sync_api as playwright_api  # pinned in requirements-dev.txt

    # Playwright's sync API runs an event loop in this thread; Django's async-safety check
    # would otherwise refuse the ORM calls the tests make between page actions.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with playwright_api.sync_playwright() as p:
            launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield launched
            launched.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


@pytest.fixture
def page(browser: Any, browser_log: BrowserLog) -> Iterator[Any]:
    """A page in a fresh context (no cookies) that reports its problems to `browser_log`."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)  # generous: a 2-core CI box runs other suites too
    context.add_init_script(_CSP_REPORTER)
    new_page = context.new_page()
    new_page.on("console", lambda message: _on_console(browser_log, message))
    new_page.on("pageerror", lambda error: browser_log.record(f"uncaught exception: {error}"))
    new_page.on("response", lambda response: _on_response(browser_log, response))
    yield new_page
    context.close()
    if not browser_log.checked:  # suites without the hook below still fail, at teardown
        browser_log.assert_clean()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail (not error) the test itself when its page reported problems."""
    log = getattr(item, "funcargs", {}).get("browser_log")
    try:
        result = yield
    except BaseException as exc:
        if isinstance(log, BrowserLog) and log.problems:
            exc.add_note("The browser also reported:\n" + "\n".join(log.problems))
        raise
    finally:
        if isinstance(log, BrowserLog):
            log.checked = True
    if isinstance(log, BrowserLog):
        log.assert_clean()
    return result


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """A screenshot for a human to look at (in SCREENSHOT_DIR); not an assertion."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def sign_in(page: Any, base_url: str, login: str, password: str, otp: str = "") -> None:
    """Sign in through the login page, as a person would, and wait for the signed-in nav."""
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", login)
    page.fill("input[name=password]", password)
    if otp:
        page.fill("input[name=otp]", otp)
    page.click("main button[type=submit]")
    page.wait_for_selector(".nav-user")
