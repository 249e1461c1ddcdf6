"""Host components some tests rely on: a test marked `requires_component("chromium")` runs
only where the component is there.

Where it is missing, CI (CI or REQUIRE_SERVICES=1 in the environment) FAILS the test with
a message naming the Debian package to install; anywhere else (`make test` on a laptop) the
test is skipped and the run ends with a banner listing what was skipped and why. A fixture
can ask the same question with `component_require(name)`.

Loaded by tests/conftest.py; it imports no Django, so the plain-pytest suites use it too.
"""

from __future__ import annotations

import glob
import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

MARKER = "requires_component"
SKIP_PREFIX = "MISSING COMPONENT"
CHROMIUM_PATH = Path("/usr/bin/chromium")


@dataclass(frozen=True)
class Component:
    description: str
    package: str  # the Debian package that provides it (deploy/dev/system-packages.sh)
    available: Callable[[], bool]


def _bubblewrap_available() -> bool:
    from backtesting.sandbox.isolation import find_bwrap

    return find_bwrap() is not None


def _seccomp_available() -> bool:
    from backtesting.sandbox.seccomp_filter import build_filter_bpf

    return build_filter_bpf() is not None


def postgres_binary_path(name: str) -> str | None:
    """A PostgreSQL server program (initdb, pg_ctl) from PATH or Debian's versioned directory."""
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return shutil.which(name) or next(iter(candidates), None)


COMPONENTS: dict[str, Component] = {
    "chromium": Component("Chromium at /usr/bin/chromium", "chromium", CHROMIUM_PATH.exists),
    "bubblewrap": Component(
        "a bubblewrap (bwrap) that can create namespaces here", "bubblewrap", _bubblewrap_available
    ),
    "seccomp": Component(
        "libseccomp's Python binding (a seccomp filter for the jail)",
        "python3-seccomp",
        _seccomp_available,
    ),
    # The fault tests (tests/chaos, tests/integration) stop and kill servers of their own.
    "redis-server": Component(
        "redis-server (private Redis instances the fault tests kill and restart)",
        "redis-server",
        lambda: shutil.which("redis-server") is not None,
    ),
    "postgresql": Component(
        "the PostgreSQL server programs initdb and pg_ctl (private clusters the fault tests stop)",
        "postgresql",
        lambda: all(postgres_binary_path(name) for name in ("initdb", "pg_ctl")),
    ),
}


def components_required() -> bool:
    """CI must fail rather than skip: CI=true (CI's runner) or REQUIRE_SERVICES=1 (.ci/run)."""
    ci = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
    return ci or os.environ.get("REQUIRE_SERVICES") == "1"


def component_require(name: str) -> None:
    """Return if the component is here; else fail (CI) or skip (elsewhere) the current test."""
    component = COMPONENTS[name]
    if component.available():
        return
    missing = f"{component.description} is missing: install Debian's `{component.package}`"
    if components_required():
        pytest.fail(f"{missing} (CI: a missing component fails, never skips)", pytrace=False)
    pytest.skip(f"{SKIP_PREFIX} {name}: {missing}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*names): needs these host components (tests/components.py); "
        "fails in CI, skips loudly elsewhere, where one is missing",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers(MARKER):
        for name in marker.args:
            component_require(name)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
        if SKIP_PREFIX in reason:
            skipped[reason.split(SKIP_PREFIX, 1)[1].strip()] += 1
    if not skipped:
        return
    terminalreporter.write_sep("!", "TESTS SKIPPED FOR MISSING COMPONENTS", red=True, bold=True)
    for reason, count in sorted(skipped.items()):
        terminalreporter.write_line(f"{count:5d} skipped: {reason}", red=True, bold=True)
    terminalreporter.write_line(
        "CI (CI=true or REQUIRE_SERVICES=1) fails these instead; `make install` as root "
        "installs the packages.",
        red=True,
    )
