"""How the worker reads a finished child (launcher.interpret), case by case, without a child.

docs/sandbox.md, "Errors" and "Resource usage": a kill by the supervisor is its code; an error
the child may report is re-raised with its text bounded (``internal_error`` always with the
generic message); an exit without a result is ``cpu_time_limit`` (SIGXCPU, or SIGKILL once the
CPU limit is used up), ``memory_limit`` (exit status or a memory marker on stderr),
``child_crashed`` (a signal after the user's code started) or ``internal_error``; bubblewrap
reports a signal as 128 + its number. Usage is the larger of the worker's measure and the
child's report, the report believed only up to the limits.
"""

from __future__ import annotations

import base64
import io
import logging
import signal
from typing import Any

import pytest

from backtesting.engine import BacktestResult, BacktestSpec, Strategy, run_backtest
from backtesting.engine.barcodec import decode_bars
from backtesting.sandbox import SandboxLimits, launcher
from backtesting.sandbox.child import EXIT_MEMORY
from backtesting.sandbox.curve_wire import curve_wire
from backtesting.sandbox.errors import (
    ChildCrashedError,
    CpuTimeLimitError,
    ForbiddenConstructError,
    InvalidOutputError,
    MemoryLimitError,
    OutputTooLargeError,
    SandboxCancelledError,
    SandboxError,
    SandboxInternalError,
    StrategyRuntimeError,
    WallClockLimitError,
)
from backtesting.sandbox.isolation import drop_to_uid
from backtesting.sandbox.launcher import interpret
from backtesting.sandbox.seccomp_filter import build_filter_bpf
from backtesting.sandbox.supervisor import Outcome
from backtesting.sandbox.wire import decode_payload
from tests.engine.helpers import bars_from_rows

LIMITS = SandboxLimits(cpu_seconds=5, memory_bytes=512 * 1024 * 1024, log_bytes=10)
LEVEL = "bubblewrap+seccomp"


class _Hold(Strategy):
    def next(self) -> None:
        if self.bar_index == 0:
            self.buy(units=1)


def _run() -> tuple[BacktestResult, dict[str, Any]]:
    spec = BacktestSpec(initial_cash=1_000.0)
    bars = bars_from_rows([[10.0, 11.0, 9.0, 10.0]] * 3)
    return run_backtest(spec, {"AAA": bars}, _Hold), spec.to_dict()


def _result() -> tuple[dict[str, Any], dict[str, Any]]:
    """The result as the child sends it (the curve as arrays) and the spec sent."""
    run, spec = _run()
    return {**run.to_dict(curve=False), "equity_curve": curve_wire(run)}, spec


def _error(outcome: Outcome) -> SandboxError:
    with pytest.raises(SandboxError) as info:
        interpret(outcome, LIMITS, LEVEL)
    return info.value


@pytest.mark.parametrize(
    ("killed_for", "expected"),
    [
        ("wall_clock_limit", WallClockLimitError),
        ("output_too_large", OutputTooLargeError),
        ("cancelled", SandboxCancelledError),
        ("cpu_time_limit", CpuTimeLimitError),
    ],
)
def test_a_kill_by_the_supervisor_is_its_code_whatever_the_child_sent(
    killed_for: str, expected: type[SandboxError]
) -> None:
    result, _ = _result()
    final = {"type": "result", "result": result}
    error = _error(Outcome(final=final, killed_for=killed_for, returncode=0))
    assert type(error) is expected
    assert error.message == expected.default_message


def test_a_reported_user_error_keeps_its_text_traceback_and_problems() -> None:
    final = {
        "type": "error",
        "code": "forbidden_construct",
        "message": "eval is not allowed",
        "traceback": ["line 3, in next"],
        "problems": [{"line": 3, "column": 0, "code": "forbidden_name", "message": "eval"}],
    }
    error = _error(Outcome(final=final, returncode=1))
    assert type(error) is ForbiddenConstructError
    assert error.message == "eval is not allowed"
    assert error.traceback == ["line 3, in next"]
    assert error.problems == [{"line": 3, "column": 0, "code": "forbidden_name", "message": "eval"}]


def test_a_reported_error_without_text_gets_the_default_message() -> None:
    final = {"type": "error", "code": "runtime_error", "message": 42}
    error = _error(Outcome(final=final, returncode=1))
    assert type(error) is StrategyRuntimeError
    assert error.message == StrategyRuntimeError.default_message
    assert (error.traceback, error.problems) == ([], [])


def test_a_long_reported_message_is_bounded() -> None:
    final = {"type": "error", "code": "runtime_error", "message": "x" * 100_000}
    error = _error(Outcome(final=final, returncode=1))
    assert 0 < len(error.message) < 100_000


@pytest.mark.parametrize("code", ["cancelled", "child_crashed", "wall_clock_limit", "bogus", None])
def test_a_code_the_child_may_not_report_is_invalid_output(code: str | None) -> None:
    final = {"type": "error", "code": code, "message": "trust me"}
    error = _error(Outcome(final=final, returncode=1))
    assert type(error) is InvalidOutputError
    assert error.message == InvalidOutputError.default_message


def test_a_reported_internal_error_shows_the_generic_message_and_logs_the_details(
    caplog: pytest.LogCaptureFixture,
) -> None:
    final = {"type": "error", "code": "internal_error", "message": "secret value 1234"}
    outcome = Outcome(final=final, returncode=1, stderr_tail=b"Traceback: engine failed")
    with caplog.at_level(logging.ERROR, logger="backtesting.sandbox.launcher"):
        error = _error(outcome)
    assert type(error) is SandboxInternalError
    assert error.message == SandboxInternalError.default_message
    assert "secret" not in error.message
    assert "Traceback: engine failed" in caplog.text


@pytest.mark.parametrize(
    ("returncode", "cpu_seconds"),
    [
        (-signal.SIGXCPU, 0.0),  # the soft limit's signal, however much CPU was measured
        (128 + signal.SIGXCPU, 0.0),  # the same, reported by bubblewrap
        (-signal.SIGKILL, 4.95),  # SIGKILL with the limit (5 s) used up: the hard limit
        (128 + signal.SIGKILL, 5.5),
    ],
)
def test_cpu_limit(returncode: int, cpu_seconds: float) -> None:
    error = _error(Outcome(returncode=returncode, cpu_seconds=cpu_seconds, user_code_started=True))
    assert type(error) is CpuTimeLimitError
    assert error.message == "The strategy used more than 5 s of CPU time and was stopped."


@pytest.mark.parametrize(
    ("returncode", "stderr"),
    [
        (EXIT_MEMORY, b""),
        (1, b"...\nMemoryError\n"),
        (-signal.SIGABRT, b"terminate called after throwing an instance of 'std::bad_alloc'"),
        (1, b"mmap: Cannot allocate memory"),
    ],
)
def test_memory_limit(returncode: int, stderr: bytes) -> None:
    error = _error(Outcome(returncode=returncode, stderr_tail=stderr, user_code_started=True))
    assert type(error) is MemoryLimitError
    assert error.message == "The strategy needed more than 512 MiB of memory."


@pytest.mark.parametrize("returncode", [-signal.SIGSEGV, 128 + signal.SIGSEGV])
def test_a_fault_after_the_user_code_started_is_a_crash_with_advice(
    returncode: int, caplog: pytest.LogCaptureFixture
) -> None:
    outcome = Outcome(returncode=returncode, user_code_started=True, stderr_tail=b"Fatal")
    with caplog.at_level(logging.WARNING, logger="backtesting.sandbox.launcher"):
        error = _error(outcome)
    assert type(error) is ChildCrashedError
    assert error.message == (
        "The strategy's process crashed (segmentation fault, signal 11) while running your "
        "code, so it produced no result. Native code (NumPy or the Python interpreter) failed "
        "on something the strategy did: check the values it passes to NumPy and indicator "
        "functions."
    )
    assert f"returncode={returncode}" in caplog.text
    assert "user_code_started=True" in caplog.text
    assert "Fatal" in caplog.text


def test_a_signal_that_is_not_a_fault_is_a_crash_without_advice() -> None:
    # SIGKILL with CPU to spare: killed from outside (the OOM killer, say), not by its limit.
    error = _error(Outcome(returncode=-signal.SIGKILL, cpu_seconds=4.9, user_code_started=True))
    assert type(error) is ChildCrashedError
    assert error.message == (
        "The strategy's process crashed (killed, signal 9) while running your code, "
        "so it produced no result."
    )


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome(returncode=-signal.SIGSEGV, user_code_started=False),  # before the user's code
        Outcome(returncode=1, user_code_started=True),  # an exit status, not a signal
        Outcome(returncode=128, user_code_started=True),  # 128 is no signal
        Outcome(returncode=None, user_code_started=True),
        Outcome(returncode=0, user_code_started=True),  # "success" without a result
    ],
)
def test_other_exits_without_a_result_are_ours(outcome: Outcome) -> None:
    error = _error(outcome)
    assert type(error) is SandboxInternalError
    assert error.message == SandboxInternalError.default_message


def test_a_result_with_a_failed_exit_status_is_not_believed() -> None:
    result, _ = _result()
    error = _error(Outcome(final={"type": "result", "result": result}, returncode=1))
    assert type(error) is SandboxInternalError


def test_a_result_comes_back_with_its_logs_and_usage() -> None:
    result, spec = _result()
    final = {
        "type": "result",
        "result": result,
        "logs": "0123456789abcdef",  # 16 bytes against a log budget of 10
        "usage": {"cpu_seconds": 1.23456, "max_rss_bytes": 50_000_000},
    }
    outcome = Outcome(
        final=final, returncode=0, cpu_seconds=0.5, max_rss_bytes=60_000_000, wall_seconds=2.34567
    )
    out = interpret(outcome, LIMITS, LEVEL, spec=spec, symbols=["AAA"])
    sandbox = out.pop("sandbox")
    # The curve stays arrays, whose JSON form is the engine's.
    assert {**out, "equity_curve": out["equity_curve"].to_json()} == _run()[0].to_dict()
    assert sandbox == {
        "logs": "0123456789",
        "logs_truncated": True,
        "isolation_level": LEVEL,
        "cpu_seconds": 1.235,  # the child's figure is larger: believed
        "wall_seconds": 2.346,
        "max_rss_bytes": 60_000_000,  # the worker's figure is larger
    }


@pytest.mark.parametrize(
    ("usage", "cpu", "rss"),
    [
        (None, 0.5, 60_000_000),  # no report: the worker's measures
        ("garbage", 0.5, 60_000_000),
        ({"cpu_seconds": True, "max_rss_bytes": True}, 0.5, 60_000_000),  # bools are no figures
        ({"cpu_seconds": "9", "max_rss_bytes": 7.5e9}, 0.5, 60_000_000),
        ({"cpu_seconds": 0.1, "max_rss_bytes": 1}, 0.5, 60_000_000),  # smaller: the worker's
        ({"cpu_seconds": 3}, 3.0, 60_000_000),  # an int is a figure
        # Above the limits: believed only up to the hard CPU limit (5 + 1 s) and memory_bytes.
        ({"cpu_seconds": 1e9, "max_rss_bytes": 10**15}, 6.0, 512 * 1024 * 1024),
    ],
)
def test_the_child_usage_report_is_believed_up_to_the_limits(
    usage: Any, cpu: float, rss: int
) -> None:
    result, _ = _result()
    final = {"type": "result", "result": result, "logs": "hi", "usage": usage}
    outcome = Outcome(final=final, returncode=0, cpu_seconds=0.5, max_rss_bytes=60_000_000)
    sandbox = interpret(outcome, LIMITS, LEVEL)["sandbox"]
    assert (sandbox["cpu_seconds"], sandbox["max_rss_bytes"]) == (cpu, rss)
    assert (sandbox["logs"], sandbox["logs_truncated"]) == ("hi", False)


@pytest.mark.parametrize(("flag", "expected"), [(True, True), ("yes", False), (None, False)])
def test_the_child_may_say_it_cut_its_log_itself(flag: Any, expected: bool) -> None:
    result, _ = _result()
    final = {"type": "result", "result": result, "logs": "", "logs_truncated": flag}
    sandbox = interpret(Outcome(final=final, returncode=0), LIMITS, "rlimits")["sandbox"]
    assert sandbox["logs_truncated"] is expected
    assert sandbox["isolation_level"] == "rlimits"
    assert sandbox["logs"] == ""


def test_a_result_out_of_shape_is_invalid_output() -> None:
    error = _error(Outcome(final={"type": "result", "result": {"nope": 1}}, returncode=0))
    assert type(error) is InvalidOutputError


def test_the_params_echo_and_the_trade_symbols_are_checked_against_what_was_sent() -> None:
    result, spec = _result()
    outcome = Outcome(final={"type": "result", "result": result}, returncode=0)
    other_params = {**spec, "params": {"fast": 3}}
    with pytest.raises(InvalidOutputError, match="parameters differ"):
        interpret(outcome, LIMITS, LEVEL, spec=other_params, symbols=["AAA"])
    with pytest.raises(InvalidOutputError):
        interpret(outcome, LIMITS, LEVEL, spec=spec, symbols=["BBB"])
    assert interpret(outcome, LIMITS, LEVEL, spec=spec, symbols=["AAA"])["trades"]


def test_undecodable_stderr_is_logged_with_replacement_characters(
    caplog: pytest.LogCaptureFixture,
) -> None:
    final = {"type": "error", "code": "internal_error"}
    outcome = Outcome(final=final, returncode=1, stderr_tail=b"bad \xff byte")
    with caplog.at_level(logging.ERROR, logger="backtesting.sandbox.launcher"):
        _error(outcome)
    assert caplog.messages == ["sandbox child reported an internal error: bad \ufffd byte"]


def test_an_exit_without_a_result_is_logged_for_the_operator(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="backtesting.sandbox.launcher"):
        _error(Outcome(returncode=1, stderr_tail=b"boom"))
    assert caplog.messages == [
        "sandbox child ended without a result: returncode=1 user_code_started=False stderr=boom"
    ]


@pytest.mark.parametrize(
    ("returncode", "what"),
    [(129, "hangup, signal 1"), (-32, "signal, signal 32")],  # glibc has no text for 32
)
def test_crash_messages_name_the_signal(returncode: int, what: str) -> None:
    error = _error(Outcome(returncode=returncode, user_code_started=True))
    assert type(error) is ChildCrashedError
    assert error.message.startswith(f"The strategy's process crashed ({what}) while running")


@pytest.mark.parametrize("level", ["bubblewrap+seccomp", "bubblewrap", "rlimits"])
def test_the_child_is_sent_the_code_spec_limits_bars_and_a_filter_only_with_seccomp(
    level: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, spec = _result()
    sent: list[bytes] = []

    def fake_run_child(payload: list[bytes], limits: Any, *_: Any) -> Outcome:
        sent.append(b"".join(payload))
        return Outcome(final={"type": "result", "result": result}, returncode=0)

    monkeypatch.setattr(launcher, "run_child", fake_run_child)
    monkeypatch.setattr(launcher, "isolation_level", lambda: level)
    bars = {"AAA": bars_from_rows([[10.0, 11.0, 9.0, 10.0]] * 3)}
    out = launcher.run_strategy_in_sandbox("code here", spec, bars, LIMITS, timeframe="1d")
    assert out["sandbox"]["isolation_level"] == level

    header, columns = decode_payload(io.BytesIO(sent[0]))
    assert (header["code"], header["spec"], header["limits"]) == (
        "code here",
        spec,
        LIMITS.to_dict(),
    )
    assert header["drop_uid"] == drop_to_uid()
    if level == "bubblewrap+seccomp":
        program = build_filter_bpf()  # None only where libseccomp is missing
        assert header["seccomp_bpf"] == (base64.b64encode(program).decode() if program else None)
    else:
        assert header["seccomp_bpf"] is None
    assert list(columns) == ["AAA"]
    payload = sent[0]
    head_len = len(payload) - header["bars_bytes"]
    assert decode_bars(payload[head_len:])[0] == "1d"
    # Without a timeframe the bars are sent with an empty one.
    launcher.run_strategy_in_sandbox("code here", spec, bars, LIMITS)
    header, _ = decode_payload(io.BytesIO(sent[1]))
    assert decode_bars(sent[1][len(sent[1]) - header["bars_bytes"] :])[0] == ""


def test_a_result_is_checked_against_the_symbols_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    result, spec = _result()  # its trade is in AAA
    outcome = Outcome(final={"type": "result", "result": result}, returncode=0)
    monkeypatch.setattr(launcher, "run_child", lambda *_: outcome)
    bars = {"BBB": bars_from_rows([[10.0, 11.0, 9.0, 10.0]] * 3, symbol="BBB")}
    with pytest.raises(InvalidOutputError):
        launcher.run_strategy_in_sandbox("code", spec, bars, LIMITS)
    with pytest.raises(InvalidOutputError, match="parameters differ"):
        launcher.run_strategy_in_sandbox("code", {**spec, "params": {"x": 1}}, {"AAA": bars["BBB"]})
