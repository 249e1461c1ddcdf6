"""Stored XSS in the real browser: the victim's pages, with every payload planted, loaded in
headless Chromium (tests/browser/conftest.py launches it and fails a page on any console
error, uncaught exception or CSP violation). No payload runs (its function is never
called, no dialog opens) and none of its elements exists in the document.
"""

from __future__ import annotations

from typing import Any

import pytest

from backtesting.services import backtest_submit
from tests.backtesting.conftest import execute_job, make_input, seed_bars
from tests.browser.conftest import BROWSER_MARKS, sign_in

# The browser suite's fixtures, re-exported so pytest finds them in this module.
from tests.browser.conftest import browser as browser
from tests.browser.conftest import browser_log as browser_log
from tests.browser.conftest import page as page
from tests.factories import DEFAULT_PASSWORD, StrategyFactory, TraderFactory
from tests.optimization.conftest import sweep_optimizations
from tests.security.xss import FIELDS, plant

pytestmark = BROWSER_MARKS

# Each payload calls xss_<field>(): defined before any page script, it records the call.
_RECORDER = "window.__xss = [];" + "".join(
    f"window.xss_{f} = () => window.__xss.push('{f}');" for f in FIELDS
)
_INJECTED = """() => [
  ...document.querySelectorAll('img[src="x"], svg[onload], [onerror], [onload]'),
  ...[...document.scripts].filter((s) => s.textContent.includes('xss_')),
].length"""


@pytest.fixture
def planted(transactional_db) -> dict[str, Any]:
    victim: Any = TraderFactory(username="victim")
    seed_bars("AAA", n=120)
    strategy: Any = StrategyFactory(owner=victim)
    version = strategy.versions.get()
    finished = execute_job(backtest_submit(owner=victim, data=make_input(version)).pk)
    failed = backtest_submit(owner=victim, data=make_input(version))
    type(failed).objects.filter(pk=failed.pk).update(status="failed")
    optimization, _ = sweep_optimizations(victim, version)
    plant(victim, strategy, failed, optimization)
    return {"strategy": strategy.pk, "finished": finished.pk, "failed": failed.pk,
            "optimization": optimization.pk}  # fmt: skip


def test_no_planted_payload_runs_or_exists_in_the_browser(live_server, page, planted):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.add_init_script(_RECORDER)
    sign_in(page, live_server.url, "victim", DEFAULT_PASSWORD)
    p = planted
    paths = [
        "/", "/strategies/", f"/strategies/{p['strategy']}/",
        f"/strategies/{p['strategy']}/edit/", f"/strategies/{p['strategy']}/versions/2/",
        f"/backtests/{p['failed']}/", f"/backtests/{p['finished']}/", "/backtests/",
        f"/research/sweeps/{p['optimization']}/", f"/backtests/new/?strategy={p['strategy']}",
        f"/research/sweeps/new/?strategy={p['strategy']}", "/accounts/", "/marketdata/",
        "/marketdata/AAA/",
    ]  # fmt: skip
    for path in paths:
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__xss") == [], path
        assert page.evaluate(_INJECTED) == 0, path
    assert dialogs == []
