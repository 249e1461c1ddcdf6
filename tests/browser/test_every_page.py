"""Every page a person can open, at a wide screen and at a 390 px phone.

For each page: it answers 200 with its own heading, nothing on it scrolls the page sideways
at 390 px (the header collapses into a menu), and a screenshot of both widths is saved for a
human to look at (SCREENSHOT_DIR). The pages are filled with real rows: a finished and a
failed backtest with results, two strategy versions, market data, an operator's import page.
"""

from __future__ import annotations

from typing import Any

import pytest

from backtesting import tasks
from backtesting.services import backtest_submit
from strategies.services import strategy_create, strategy_update
from tests.backtesting.conftest import execute_job, make_input, seed_bars
from tests.browser.conftest import BROWSER_MARKS, screenshot, sign_in
from tests.factories import (
    DEFAULT_PASSWORD,
    OperatorFactory,
    StrategyFactory,
    TraderFactory,
    totp_code,
    totp_device_for,
)

pytestmark = BROWSER_MARKS

PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1280, "height": 900}


@pytest.fixture
def filled(transactional_db, monkeypatch) -> dict[str, Any]:
    """A trader with strategies, two finished backtests and a failed one, and market data."""
    monkeypatch.setattr(tasks.backtest_execute_task, "apply_async", lambda *a, **k: None)
    trader = TraderFactory(username="tom", display_name="Tom Quant")
    seed_bars("AAA", n=400)
    seed_bars("BBB", n=400, seed=2)
    strategy = StrategyFactory.create(owner=trader, name="Trend <b>follower</b>")
    version = strategy.versions.get()
    strategy_update(
        strategy=strategy, user=trader, code=version.code.replace("Long when", "Long while")
    )
    first = execute_job(backtest_submit(owner=trader, data=make_input(version)).pk)
    second = execute_job(
        backtest_submit(
            owner=trader, data=make_input(version, parameters={"fast": 8, "slow": 30})
        ).pk
    )
    broken = strategy_create(
        owner=trader,
        name="Broken",
        code=(
            "from strategy import Strategy\n\n\n"
            "class Broken(Strategy):\n"
            "    def next(self):\n"
            "        self.buy(size=1 / 0)\n"
        ),
    )
    failed = execute_job(
        backtest_submit(owner=trader, data=make_input(broken.versions.get(), parameters={})).pk
    )
    assert (first.status, second.status, failed.status) == ("succeeded", "succeeded", "failed")
    assert failed.error_code == "runtime_error" and "division" in failed.error_message
    operator = OperatorFactory(username="olga")
    return {
        "trader": trader,
        "strategy": strategy,
        "first": first,
        "second": second,
        "failed": failed,
        "operator": operator,
    }


def _trader_pages(f: dict[str, Any]) -> list[tuple[str, str]]:
    s, first, second = f["strategy"].pk, f["first"].pk, f["second"].pk
    return [
        ("dashboard", "/"),
        ("strategy-list", "/strategies/"),
        ("strategy-new", "/strategies/new/"),
        ("strategy-detail", f"/strategies/{s}/"),
        ("strategy-edit", f"/strategies/{s}/edit/"),
        ("strategy-version", f"/strategies/{s}/versions/1/"),
        ("strategy-diff", f"/strategies/{s}/versions/2/diff/?against=1"),
        ("backtest-list", "/backtests/"),
        ("backtest-choose-strategy", "/backtests/new/"),
        ("backtest-new", f"/backtests/new/?strategy={s}"),
        ("backtest-detail", f"/backtests/{first}/"),
        ("backtest-failed", f"/backtests/{f['failed'].pk}/"),
        ("compare", f"/backtests/compare/?ids={first}&ids={second}"),
        ("marketdata-list", "/marketdata/"),
        ("marketdata-instrument", "/marketdata/AAA/"),
        ("account", "/accounts/"),
        ("two-factor", "/accounts/2fa/"),
        ("password-change", "/accounts/password/change/"),
    ]


def _visit(page: Any, url: str, name: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{name}: {url} -> {response}"
    page.wait_for_load_state("networkidle")
    assert page.locator("main h1").count() >= 1, f"{name} has no heading"


def _sideways_overflow(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def _check_both_widths(page: Any, base: str, pages: list[tuple[str, str]]) -> list[str]:
    problems = []
    for name, path in pages:
        page.set_viewport_size(WIDE)
        _visit(page, base + path, name)
        screenshot(page, f"page-{name}")
        page.set_viewport_size(PHONE)
        _visit(page, base + path, name)
        screenshot(page, f"page-{name}-390")
        overflow = _sideways_overflow(page)
        if overflow > 0:
            problems.append(f"{name} ({path}) scrolls {overflow} px sideways at 390 px")
    return problems


def test_every_trader_page_fits_a_phone_and_a_wide_screen(live_server, page, filled) -> None:
    sign_in(page, live_server.url, "tom", DEFAULT_PASSWORD)
    problems = _check_both_widths(page, live_server.url, _trader_pages(filled))
    assert not problems, "\n".join(problems)
    # User text stays text: the strategy's name with markup is shown, never rendered.
    page.goto(f"{live_server.url}/strategies/")
    assert page.locator("main b", has_text="follower").count() == 0
    assert "Trend <b>follower</b>" in page.inner_text("main")
    # The failed run shows the user's own line, highlighted, with its code around it.
    page.goto(f"{live_server.url}/backtests/{filled['failed'].pk}/")
    assert "self.buy(size=1 / 0)" in page.inner_text("main")


def test_every_public_and_operator_page_fits_a_phone(live_server, page, filled) -> None:
    public = [
        ("home", "/"),
        ("login", "/accounts/login/"),
        ("signup", "/accounts/signup/"),
        ("password-reset", "/accounts/password/reset/"),
    ]
    problems = _check_both_widths(page, live_server.url, public)
    # Operators sign in with their second factor (the import page is theirs alone).
    page.goto(f"{live_server.url}/")
    page.context.clear_cookies()
    device = totp_device_for(filled["operator"])
    sign_in(page, live_server.url, "olga", DEFAULT_PASSWORD, otp=totp_code(device))
    operator = [("marketdata-import", "/marketdata/import/")]
    problems += _check_both_widths(page, live_server.url, operator)
    assert not problems, "\n".join(problems)
