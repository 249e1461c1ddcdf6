"""run_strategy_in_sandbox(): the happy path, progress, cancellation and error mapping."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

import strategies.validation
from backtesting.sandbox import SandboxError, SandboxLimits, isolation_level
from backtesting.sandbox.errors import ERRORS_BY_CODE
from backtesting.sandbox.launcher import interpret
from backtesting.sandbox.supervisor import Outcome
from tests.sandbox.conftest import HEADER, SMA_CROSS

LIMITS = SandboxLimits(cpu_seconds=2, wall_seconds=8.0, memory_bytes=512 * 1024 * 1024)
CONTRACT_CODES = {
    "syntax_error", "forbidden_construct", "runtime_error", "cpu_time_limit",
    "wall_clock_limit", "memory_limit", "output_too_large", "child_crashed", "cancelled",
    "invalid_output",
}  # fmt: skip
LOOP = (
    HEADER + "class Spin(Strategy):\n    def next(self):\n        while True:\n            pass\n"
)


def test_an_sma_crossover_runs_and_returns_the_engine_result(
    run: Callable[..., dict[str, Any]],
) -> None:
    result = run(SMA_CROSS)
    assert result["sandbox"]["isolation_level"] == isolation_level()
    assert result["sandbox"]["logs"] == ""
    assert set(result) - {"sandbox"}, "the engine's result keys are returned"


def test_orders_are_listed_only_when_asked_for_and_nothing_else_changes(
    run: Callable[..., dict[str, Any]],
) -> None:
    full, lean = run(SMA_CROSS, with_orders=True), run(SMA_CROSS)
    assert full["orders"] and [o["status"] for o in full["orders"]].count("filled") >= 2
    assert lean["orders"] == []
    assert lean["trades"] == full["trades"] and lean["statistics"] == full["statistics"]
    assert lean["equity_curve"].to_json() == full["equity_curve"].to_json()


def test_progress_is_streamed_to_the_caller(run: Callable[..., dict[str, Any]]) -> None:
    seen: list[float] = []
    run(SMA_CROSS, on_progress=seen.append)
    assert seen, "at least one progress message"
    assert seen == sorted(seen) and all(0.0 <= f <= 1.0 for f in seen)


def test_cancel_kills_the_child_at_the_first_yes(run: Callable[..., dict[str, Any]]) -> None:
    # LOOP never ends on its own, so returning at all means the child was killed; the poll
    # count (not a clock) shows it happened at the first "cancel", without waiting further.
    polls: list[bool] = []

    def should_cancel() -> bool:
        polls.append(len(polls) >= 2)
        return polls[-1]

    with pytest.raises(SandboxError) as caught:
        run(LOOP, should_cancel=should_cancel)
    assert caught.value.code == "cancelled"
    assert polls == [False, False, True]


def test_an_exception_in_on_progress_propagates_after_killing_the_child(
    run: Callable[..., dict[str, Any]],
) -> None:
    def boom(fraction: float) -> None:
        raise KeyError("caller bug")

    with pytest.raises(KeyError):
        run(SMA_CROSS, on_progress=boom)


def test_a_runtime_error_carries_only_the_users_traceback_lines(
    run: Callable[..., dict[str, Any]],
) -> None:
    code = HEADER + (
        "class Div(Strategy):\n"
        "    def helper(self):\n"
        "        return 1 / 0\n"
        "    def next(self):\n"
        "        self.helper()\n"
    )
    with pytest.raises(SandboxError) as caught:
        run(code)
    error = caught.value
    assert error.code == "runtime_error"
    assert "ZeroDivisionError" in error.message
    assert error.traceback[-2:] == ["line 8, in next", "line 6, in helper"]
    assert not any("/" in line for line in error.traceback), "no host paths leak"


def test_syntax_errors_and_forbidden_constructs_have_distinct_codes(
    run: Callable[..., dict[str, Any]],
) -> None:
    with pytest.raises(SandboxError) as caught:
        run(HEADER + "class S(Strategy)\n    pass\n")
    assert caught.value.code == "syntax_error"
    assert caught.value.problems[0]["line"] == 4
    with pytest.raises(SandboxError) as caught:
        run(HEADER + "import os\nclass S(Strategy):\n    def next(self):\n        pass\n")
    assert caught.value.code == "forbidden_construct"


def test_user_code_is_never_compiled_in_the_calling_process(
    run: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(code: str) -> None:
        raise AssertionError("compiled in the parent")

    monkeypatch.setattr(strategies.validation, "compile_strategy", refuse)
    assert run(SMA_CROSS)


def test_the_isolation_level_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    isolation_level.cache_clear()
    with caplog.at_level(logging.INFO, logger="backtesting.sandbox.isolation"):
        level = isolation_level()
    assert f"isolation level: {level}" in caplog.text


def test_every_contract_code_has_an_error_class() -> None:
    assert set(ERRORS_BY_CODE) >= CONTRACT_CODES
    for code, cls in ERRORS_BY_CODE.items():
        assert issubclass(cls, SandboxError) and cls.code == code and cls().message


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (Outcome(returncode=-11, user_code_started=True), "child_crashed"),
        (Outcome(returncode=128 + 11, user_code_started=True), "child_crashed"),
        # Before the user's code started, or an exit status no user code can cause: ours.
        (Outcome(returncode=-11), "internal_error"),
        (Outcome(returncode=0), "internal_error"),
        (Outcome(returncode=1, user_code_started=True), "internal_error"),
        (Outcome(returncode=128 + 24), "cpu_time_limit"),
        (Outcome(returncode=128 + 9, cpu_seconds=2.5), "cpu_time_limit"),
        (Outcome(returncode=3), "memory_limit"),
        (Outcome(returncode=1, stderr_tail=b"MemoryError"), "memory_limit"),
        (Outcome(killed_for="output_too_large"), "output_too_large"),
        (Outcome(killed_for="invalid_output"), "invalid_output"),
        (Outcome(final={"type": "error", "code": "cancelled"}, returncode=0), "invalid_output"),
        (Outcome(final={"type": "result", "result": [1]}, returncode=0), "invalid_output"),
    ],
)
def test_child_outcomes_map_to_stable_codes(outcome: Outcome, code: str) -> None:
    with pytest.raises(SandboxError) as caught:
        interpret(outcome, LIMITS, "rlimits")
    assert caught.value.code == code


@pytest.mark.parametrize(
    "kwargs",
    [{"cpu_seconds": 0}, {"wall_seconds": 0}, {"memory_bytes": 1024}, {"max_open_files": 2}],
)
def test_limits_reject_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SandboxLimits(**kwargs)


def test_without_bubblewrap_the_rlimits_level_still_runs_and_limits(
    run: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from backtesting.sandbox import isolation, launcher

    monkeypatch.setattr(isolation, "find_bwrap", lambda: None)
    monkeypatch.setattr(launcher, "isolation_level", lambda: "rlimits")
    assert run(SMA_CROSS)["sandbox"]["isolation_level"] == "rlimits"
    with pytest.raises(SandboxError) as caught:
        run(LOOP)
    assert caught.value.code == "cpu_time_limit"
