"""A missing host component fails a test in CI and skips it loudly elsewhere
(tests/components.py), tried on an inner pytest run with a component that is never there."""

from __future__ import annotations

import pytest

from tests.components import COMPONENTS, Component

INNER_CONFTEST = """
from tests.components import pytest_configure, pytest_runtest_setup, pytest_terminal_summary
"""
INNER_TESTS = """
import pytest
from tests.components import component_require

@pytest.mark.requires_component("unobtainium")
def test_marked():
    pass

@pytest.fixture
def needs_it():
    component_require("unobtainium")

def test_through_a_fixture(needs_it):
    pass

@pytest.mark.requires_component("always-here")
def test_present():
    pass
"""


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setitem(
        COMPONENTS, "unobtainium", Component("Unobtainium", "unobtainium-tools", lambda: False)
    )
    monkeypatch.setitem(COMPONENTS, "always-here", Component("Air", "air", lambda: True))
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("REQUIRE_SERVICES", raising=False)
    pytester.makeconftest(INNER_CONFTEST)
    pytester.makepyfile(test_inner=INNER_TESTS)
    return pytester


def _run(pytester: pytest.Pytester) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:django", "-p", "no:cacheprovider", "-p", "no:randomly")


def test_on_a_laptop_a_missing_component_skips_and_the_run_says_so_loudly(inner):
    result = _run(inner)

    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(
        [
            "*TESTS SKIPPED FOR MISSING COMPONENTS*",
            "*2 skipped: unobtainium: Unobtainium is missing: install Debian's `unobtainium-tools`",
        ]
    )


@pytest.mark.parametrize(("variable", "value"), [("REQUIRE_SERVICES", "1"), ("CI", "true")])
def test_in_ci_a_missing_component_fails_naming_its_package(inner, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)

    result = _run(inner)

    result.assert_outcomes(passed=1, errors=2)  # refused in setup: an error fails the run too
    result.stdout.fnmatch_lines(
        ["*Unobtainium is missing: install Debian's `unobtainium-tools` (CI: * never skips)"] * 2
    )
    assert result.ret != 0
    result.stdout.no_fnmatch_line("*TESTS SKIPPED FOR MISSING COMPONENTS*")


def test_the_components_ci_relies_on_name_their_debian_packages():
    assert {name: c.package for name, c in COMPONENTS.items()} == {
        "chromium": "chromium",
        "bubblewrap": "bubblewrap",
        "seccomp": "python3-seccomp",
        "redis-server": "redis-server",
        "postgresql": "postgresql",
    }
