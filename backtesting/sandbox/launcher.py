"""run_strategy_in_sandbox(): the only way the worker runs user strategy code."""

from __future__ import annotations

import base64
import logging
import signal
from collections.abc import Callable, Mapping
from typing import Any

from backtesting.engine.barcodec import BarsLike
from backtesting.sandbox.bounds import log_bound, problems_bound, traceback_bound
from backtesting.sandbox.child import EXIT_MEMORY
from backtesting.sandbox.curve_wire import curve_from_wire
from backtesting.sandbox.errors import (
    CHILD_REPORTABLE_CODES,
    ERRORS_BY_CODE,
    ChildCrashedError,
    CpuTimeLimitError,
    InvalidOutputError,
    MemoryLimitError,
    SandboxError,
    SandboxInternalError,
)
from backtesting.sandbox.isolation import drop_to_uid, isolation_level
from backtesting.sandbox.limits import SandboxLimits
from backtesting.sandbox.results import validate_result
from backtesting.sandbox.seccomp_filter import build_filter_bpf
from backtesting.sandbox.supervisor import Outcome
from backtesting.sandbox.wire import encode_payload
from backtesting.sandbox.zygote import run_child

logger = logging.getLogger(__name__)

# A RLIMIT_AS failure is usually a MemoryError, but an allocation deep inside C code can abort
# the interpreter instead; these stderr markers let us still call it a memory problem.
MEMORY_MARKERS = (b"MemoryError", b"Cannot allocate memory", b"std::bad_alloc")
STDERR_LOG_BYTES = 4_000  # of the child's stderr, into the worker's log
# A process dies of these when native code faults, not when something else kills it.
FAULT_SIGNALS = frozenset(
    {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT}
)


def run_strategy_in_sandbox(
    code: str,
    spec: Mapping[str, Any],
    bars: Mapping[str, BarsLike],
    limits: SandboxLimits | None = None,
    on_progress: Callable[[float], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    timeframe: str = "",
    with_orders: bool = False,
) -> dict[str, Any]:
    """Run user strategy code on the engine in a jailed child process of its own.

    code: the user's source; spec: BacktestSpec.to_dict(); bars: {symbol: BarSeries} of
    `timeframe` (sent in the bar codec's bytes, the ones the data fingerprint hashes).
    Returns BacktestResult.to_dict() (validated) with its "equity_curve" as a checked RunCurve
    (arrays; `.to_json()` is the engine's form) and an empty "orders" list unless
    `with_orders` (only the look-ahead check reads orders; every store keeps trades), plus
    a "sandbox" entry with the user's print log and resource usage.
    Raises a SandboxError subclass whose ``code`` says what went wrong.
    """
    limits = limits or SandboxLimits()
    level = isolation_level()
    header = {**_header(code, spec, limits, level), "with_orders": with_orders}
    payload = encode_payload(header, bars, timeframe=timeframe)
    outcome = run_child(payload, limits, on_progress, should_cancel)
    return interpret(outcome, limits, level, spec=spec, symbols=list(bars))


def _header(code: str, spec: Mapping[str, Any], limits: SandboxLimits, level: str) -> dict:
    program = build_filter_bpf() if level == "bubblewrap+seccomp" else None
    return {
        "code": code,
        "spec": dict(spec),
        "limits": limits.to_dict(),
        "drop_uid": drop_to_uid(),
        "seccomp_bpf": base64.b64encode(program).decode() if program else None,
    }


def interpret(
    outcome: Outcome,
    limits: SandboxLimits,
    level: str,
    *,
    spec: Mapping[str, Any] | None = None,
    symbols: list[str] | None = None,
) -> dict[str, Any]:
    """Turn a finished child into the result dict or the matching SandboxError.

    This is where the child's output enters the worker: every user-controlled text is cut to
    the limits in bounds.py here, and the result checked against what can be stored.
    """
    if outcome.killed_for is not None:
        raise ERRORS_BY_CODE[outcome.killed_for]()
    final = outcome.final
    if final is not None and final["type"] == "error":
        raise _child_error(final, outcome)
    if final is not None and outcome.returncode == 0:
        result = validate_result(final.get("result"), spec=spec, symbols=symbols)
        curve = curve_from_wire(result["equity_curve"])
        return {
            **result,
            "equity_curve": curve,
            "sandbox": _sandbox_info(final, outcome, limits, level),
        }
    raise _exit_error(outcome, limits)


def _child_error(final: dict[str, Any], outcome: Outcome) -> SandboxError:
    code = final.get("code")
    if code not in CHILD_REPORTABLE_CODES:
        return InvalidOutputError()
    if code == "internal_error":
        # Our bug, whatever the child says: its text may quote the user's values, so the user
        # gets the generic message and the operator the details (the child wrote them to stderr).
        logger.error("sandbox child reported an internal error: %s", _stderr_text(outcome))
        return SandboxInternalError()
    message = final.get("message")
    # SandboxError bounds the message, the traceback and the problems itself.
    return ERRORS_BY_CODE[code](
        message if isinstance(message, str) else None,
        traceback=traceback_bound(final.get("traceback")),
        problems=problems_bound(final.get("problems")),
    )


def _exit_error(outcome: Outcome, limits: SandboxLimits) -> SandboxError:
    """A child that ended without a final message: a limit, the user's crash, or our bug."""
    signum = _signal_of(outcome.returncode)
    out_of_cpu = outcome.cpu_seconds >= limits.cpu_seconds - 0.05
    if signum == signal.SIGXCPU or (signum == signal.SIGKILL and out_of_cpu):
        return CpuTimeLimitError(
            f"The strategy used more than {limits.cpu_seconds} s of CPU time and was stopped."
        )
    if outcome.returncode == EXIT_MEMORY or any(m in outcome.stderr_tail for m in MEMORY_MARKERS):
        return MemoryLimitError(
            f"The strategy needed more than {limits.memory_bytes // (1024 * 1024)} MiB of memory."
        )
    logger.warning(
        "sandbox child ended without a result: returncode=%s user_code_started=%s stderr=%s",
        outcome.returncode,
        outcome.user_code_started,
        _stderr_text(outcome),
    )
    if signum is not None and outcome.user_code_started:
        return ChildCrashedError(_crash_message(signum))
    # Before the user's code started (imports, lockdown), or an exit status no user code can
    # cause (exceptions end in an error message): ours.
    return SandboxInternalError()


def _crash_message(signum: int) -> str:
    what = (signal.strsignal(signum) or "signal").lower()
    message = (
        f"The strategy's process crashed ({what}, signal {signum}) while running your code, "
        "so it produced no result."
    )
    if signum in FAULT_SIGNALS:
        message += (
            " Native code (NumPy or the Python interpreter) failed on something the strategy "
            "did: check the values it passes to NumPy and indicator functions."
        )
    return message


def _stderr_text(outcome: Outcome) -> str:
    return outcome.stderr_tail[-STDERR_LOG_BYTES:].decode("utf-8", "replace")


def _signal_of(returncode: int | None) -> int | None:
    if returncode is None:
        return None
    if returncode < 0:
        return -returncode
    # bubblewrap reports a signalled child as 128 + signal number.
    return returncode - 128 if returncode > 128 else None


def _sandbox_info(
    final: dict[str, Any], outcome: Outcome, limits: SandboxLimits, level: str
) -> dict[str, Any]:
    logs, cut = log_bound(final.get("logs"), limits.log_bytes)
    cpu_seconds, max_rss_bytes = _usage(final.get("usage"), outcome, limits)
    return {
        "logs": logs,
        "logs_truncated": cut or final.get("logs_truncated") is True,
        "isolation_level": level,
        "cpu_seconds": round(cpu_seconds, 3),
        "wall_seconds": round(outcome.wall_seconds, 3),
        "max_rss_bytes": max_rss_bytes,
    }


def _usage(reported: Any, outcome: Outcome, limits: SandboxLimits) -> tuple[float, int]:
    """The child's own rusage where it sent one, else what the worker measured.

    The child ran next to user code, so its figures are believed only up to the limits that
    bound them (the hard CPU limit, the address-space limit).
    """
    cpu, rss = outcome.cpu_seconds, outcome.max_rss_bytes
    if not isinstance(reported, dict):
        return cpu, rss
    child_cpu, child_rss = reported.get("cpu_seconds"), reported.get("max_rss_bytes")
    if isinstance(child_cpu, int | float) and not isinstance(child_cpu, bool):
        cpu = max(cpu, min(float(child_cpu), limits.cpu_seconds + 1.0))
    if isinstance(child_rss, int) and not isinstance(child_rss, bool):
        rss = max(rss, min(child_rss, limits.memory_bytes))
    return cpu, rss
