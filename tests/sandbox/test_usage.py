"""Resource usage is the jailed interpreter's own, and limits are named right at every level.

Under bubblewrap the worker's child is bwrap, whose rusage does not include the jailed
process: usage must come from the jailed process itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from backtesting.sandbox import SandboxError, SandboxLimits, isolation, launcher
from tests.components import component_require
from tests.sandbox.conftest import HEADER

# Every test runs against children forked by the zygote and against fresh processes.
pytestmark = pytest.mark.usefixtures("child_kind")
MIB = 1024 * 1024
LEVELS = ["bubblewrap", "rlimits"]
BURN_ITERATIONS = 3_000_000
BURN = HEADER + (
    "class Burn(Strategy):\n"
    "    def init(self):\n"
    "        x = 0\n"
    f"        for i in range({BURN_ITERATIONS}):\n"
    "            x += i\n"
    "        self.x = x\n"
    "    def next(self):\n"
    "        pass\n"
)
HOLD_MIB = 160
HOLD_MEMORY = HEADER + (
    "class Hold(Strategy):\n"
    "    def init(self):\n"
    f"        self.block = np.ones({HOLD_MIB * MIB // 8})\n"
    "    def next(self):\n"
    "        pass\n"
)
SPIN = (
    HEADER + "class Spin(Strategy):\n    def next(self):\n        while True:\n            pass\n"
)
# In the child's place: a process that ignores SIGXCPU, so only the hard limit's SIGKILL stops
# it, which bubblewrap reports as exit status 137 with its own, tiny CPU time.
IGNORES_SIGXCPU = (
    "import resource, signal\n"
    "signal.signal(signal.SIGXCPU, signal.SIG_IGN)\n"
    "resource.setrlimit(resource.RLIMIT_CPU, (1, 2))\n"
    "while True:\n"
    "    pass\n"
)
ONE_CPU_SECOND = SandboxLimits(cpu_seconds=1, wall_seconds=30.0, memory_bytes=512 * MIB)


@pytest.fixture(params=LEVELS)
def level(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "bubblewrap":
        component_require("bubblewrap")
        return request.param
    monkeypatch.setattr(isolation, "find_bwrap", lambda: None)
    monkeypatch.setattr(launcher, "isolation_level", lambda: "rlimits")
    return request.param


def plain_burn_cpu_seconds() -> float:
    """CPU time of the same loop in this process, without RestrictedPython's guards."""
    started = time.process_time()
    x = 0
    for i in range(BURN_ITERATIONS):
        x += i
    assert x
    return time.process_time() - started


def test_the_reported_cpu_time_covers_what_the_strategy_burnt(
    run: Callable[..., dict[str, Any]], level: str
) -> None:
    # The jailed loop runs through guards, so it costs at least what the plain loop costs;
    # half of that is a bound no machine speed can make the real figure fall under.
    lower_bound = plain_burn_cpu_seconds() / 2
    usage = run(BURN)["sandbox"]
    assert usage["cpu_seconds"] >= lower_bound


def test_the_reported_memory_covers_what_the_strategy_holds(
    run: Callable[..., dict[str, Any]], level: str
) -> None:
    usage = run(HOLD_MEMORY)["sandbox"]
    assert usage["max_rss_bytes"] >= HOLD_MIB * MIB


def test_a_strategy_over_a_small_cpu_limit_is_stopped_for_cpu_time(
    run: Callable[..., dict[str, Any]], level: str
) -> None:
    with pytest.raises(SandboxError) as caught:
        run(SPIN, limits=ONE_CPU_SECOND)
    assert caught.value.code == "cpu_time_limit"


def test_a_process_killed_at_the_hard_cpu_limit_is_a_cpu_time_limit_not_a_crash(
    run: Callable[..., dict[str, Any]], level: str, child_program: Callable[..., None]
) -> None:
    child_program(IGNORES_SIGXCPU)
    with pytest.raises(SandboxError) as caught:
        run(SPIN, limits=ONE_CPU_SECOND)
    assert caught.value.code == "cpu_time_limit"
