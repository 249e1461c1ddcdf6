"""Errors are classified by origin: the user's code versus ours.

`internal_error` is only ever our bug and never carries text the user's code produced; the
details of our bugs go to the server's log. A crash while the user's code runs is the user's
(`child_crashed`, said in the user's terms), a crash before it started is ours.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from backtesting.engine import BacktestSpec, EngineError, StrategyError
from backtesting.sandbox import SandboxError, SandboxLimits, runner
from backtesting.sandbox.child import final_bytes
from backtesting.sandbox.errors import SandboxInternalError
from backtesting.sandbox.launcher import interpret
from backtesting.sandbox.supervisor import Outcome
from backtesting.sandbox.wire import iter_messages
from tests.sandbox.conftest import HEADER, SMA_CROSS, make_bars

USER_TEXT = "USERTEXT_7f3a"
LIMITS = SandboxLimits(cpu_seconds=2, wall_seconds=8.0, memory_bytes=512 * 1024 * 1024)
GENERIC = SandboxInternalError.default_message
STRINGS_AS_SIGNALS = HEADER + (
    "class Words(Strategy):\n"
    "    def signals(self, data):\n"
    f"        return {{'AAA': ['{USER_TEXT}'] * len(data.close)}}\n"
)
# Raw programs started in the child's place (no lockdown, no user code): what the worker sees
# when the jailed process dies of a signal, after or before it said the user's code started.
CRASH_IN_USER_CODE = (
    'import ctypes, os\nos.write(1, b\'{"type":"started"}\\n\')\nctypes.string_at(0)\n'
)
CRASH_BEFORE_USER_CODE = "import ctypes\nctypes.string_at(0)\n"


def run_job_in_process(code: str) -> dict[str, Any]:
    """The child's job logic without the process around it (trusted test code only)."""
    columns = {
        symbol: {name: getattr(series, name) for name in
                 ("timestamps", "open", "high", "low", "close", "volume")}
        for symbol, series in make_bars().items()
    }  # fmt: skip
    header = {"code": code, "spec": BacktestSpec().to_dict(), "limits": LIMITS.to_dict()}
    return runner.run_job(header, columns, lambda fraction: None)


def raising(exc: BaseException) -> Callable[..., Any]:
    def run_backtest(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return run_backtest


# ------------------------------------------------------------------ internal_error


def test_the_users_text_only_ever_appears_in_an_error_that_is_the_users(
    run: Callable[..., dict[str, Any]],
) -> None:
    with pytest.raises(SandboxError) as caught:
        run(STRINGS_AS_SIGNALS)
    error = caught.value
    assert error.user_fault or USER_TEXT not in str(error.to_dict())


def test_an_engine_error_reaches_the_user_as_a_generic_internal_error(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(runner, "run_backtest", raising(EngineError(f"internal: {USER_TEXT}")))
    message = run_job_in_process(SMA_CROSS)
    assert message["code"] == "internal_error"
    assert USER_TEXT not in str(message)
    assert USER_TEXT in capfd.readouterr().err, "the details go to the server side"


def test_an_unexpected_exception_in_our_code_is_an_internal_error_without_its_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runner, "run_backtest", raising(KeyError(USER_TEXT)))
    message = run_job_in_process(SMA_CROSS)
    assert message["code"] == "internal_error"
    assert USER_TEXT not in str(message)


def test_a_strategy_error_from_the_engine_is_the_users_error_with_the_engines_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problem = StrategyError("signals()['AAA'] must hold numbers, got str")
    monkeypatch.setattr(runner, "run_backtest", raising(problem))
    message = run_job_in_process(SMA_CROSS)
    assert message["code"] == "runtime_error"
    assert message["message"] == "signals()['AAA'] must hold numbers, got str"


def test_the_worker_never_shows_the_childs_text_for_an_internal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    final = {
        "type": "error",
        "code": "internal_error",
        "message": USER_TEXT,
        "traceback": [USER_TEXT],
    }
    outcome = Outcome(final=final, returncode=0, stderr_tail=f"Traceback: {USER_TEXT}".encode())
    with (
        caplog.at_level(logging.ERROR, logger="backtesting.sandbox.launcher"),
        pytest.raises(SandboxError) as caught,
    ):
        interpret(outcome, LIMITS, "rlimits")
    assert caught.value.code == "internal_error" and not caught.value.user_fault
    assert caught.value.to_dict()["message"] == GENERIC
    assert USER_TEXT not in str(caught.value.to_dict())
    assert USER_TEXT in caplog.text, "logged for the operator"


def test_a_result_the_child_cannot_encode_ends_as_an_internal_error() -> None:
    data = bytearray(final_bytes({"type": "result", "result": {"x": np.float64("nan")}}))
    (message,) = iter_messages(data)
    assert message["type"] == "error" and message["code"] == "internal_error"


# ------------------------------------------------------------------ crashes


def test_a_crash_while_the_users_code_runs_is_the_users_and_says_what_happened(
    run: Callable[..., dict[str, Any]], child_program: Callable[..., None]
) -> None:
    child_program(CRASH_IN_USER_CODE)
    with pytest.raises(SandboxError) as caught:
        run(SMA_CROSS)
    error = caught.value
    assert error.code == "child_crashed"
    assert error.user_fault and error.to_dict()["user_fault"] is True
    assert error.message.startswith(
        "The strategy's process crashed (segmentation fault, signal 11) while running your code"
    )


def test_a_crash_before_the_users_code_started_is_ours(
    run: Callable[..., dict[str, Any]], child_program: Callable[..., None]
) -> None:
    child_program(CRASH_BEFORE_USER_CODE)
    with pytest.raises(SandboxError) as caught:
        run(SMA_CROSS)
    assert caught.value.code == "internal_error" and not caught.value.user_fault
    assert caught.value.message == GENERIC


@pytest.mark.parametrize("returncode", [-11, 128 + 11], ids=["bare", "through_bubblewrap"])
def test_a_segfault_is_described_in_the_users_terms(returncode: int) -> None:
    with pytest.raises(SandboxError) as caught:
        interpret(Outcome(returncode=returncode, user_code_started=True), LIMITS, "rlimits")
    assert caught.value.code == "child_crashed" and caught.value.user_fault
    assert "(segmentation fault, signal 11)" in caught.value.message
