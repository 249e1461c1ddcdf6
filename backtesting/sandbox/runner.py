"""Inside the jail, after lockdown: compile the user's code, run it on the engine, report.

Imported by child.py before the lockdown so that every trusted import (engine, validator,
RestrictedPython, NumPy) is loaded while files can still be opened.
"""

from __future__ import annotations

import math
import re
import sys
import time
import traceback
from collections.abc import Callable
from types import CodeType, TracebackType
from typing import Any

import numpy as np

# NumPy loads some submodules on first use (np.unique, np.median and np.percentile reach
# numpy.ma). This module is imported before the lockdown, so they are loaded here: after it the
# child runs as uid 65534, which at the rlimits level cannot enter a checkout or virtualenv
# under a 0700 directory (mktemp -d, pytest's tmp dir), and an import there would fail.
import numpy.ma

from backtesting.engine import (
    BacktestSpec,
    BarSeries,
    EngineError,
    Strategy,
    StrategyError,
    run_backtest,
)
from backtesting.sandbox.bounds import (
    MAX_MESSAGE_CHARS,
    MAX_TRACEBACK_LINES,
    problems_bound,
    text_bound,
    traceback_bound,
)
from backtesting.sandbox.curve_wire import curve_wire
from backtesting.sandbox.facades import build_facades
from backtesting.sandbox.guards import BoundedLog, restricted_globals
from backtesting.sandbox.indicators import indicators_wire
from strategies.validation import StrategyValidationError, compile_strategy
from strategies.validation.policy import FILENAME

Message = dict[str, Any]
SYNTAX_CODES = frozenset({"syntax_error", "invalid_encoding", "null_byte", "invalid_input"})
STDERR_DETAILS_CHARS = 4_000  # the worker keeps the last 8 KiB of stderr
# The engine reports progress about a hundred times a run; the worker stores it at most every
# BACKTEST_PROGRESS_INTERVAL_SECONDS (0.25 s). Every message is a write here and a wake-up,
# a read and a JSON parse in the worker, so a 10 ms run sent ~100 for none to be stored.
PROGRESS_MIN_SECONDS = 0.1
_ENGINE_FRAME = re.compile(r'File "<strategy>", (line \d+, in \w+)')


def run_job(
    header: dict[str, Any], columns: dict[str, dict[str, np.ndarray]], progress: Callable
) -> Message:
    """One backtest; returns the protocol message (result or error) to send to the parent."""
    log = BoundedLog(int(header["limits"]["log_bytes"]))
    try:
        code = compile_strategy(header["code"])
        result = _execute(code, header, columns, log, progress_throttled(progress))
    except StrategyValidationError as exc:
        return _validation_error(exc)
    except StrategyError as exc:  # the engine says the user's code or its values are at fault
        if _caused_by_memory(exc):
            return _error("memory_limit", "The strategy ran out of memory.", [], log)
        return _error("runtime_error", exc.message, _strategy_error_lines(exc), log)
    except MemoryError:
        raise  # child.py turns this into its memory exit code without allocating more
    except BaseException as exc:
        return _by_origin(exc, log)
    return {"type": "result", "result": result, "logs": log.text(), "logs_truncated": log.truncated}


def progress_throttled(
    progress: Callable[[float], None],
    min_seconds: float = PROGRESS_MIN_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[float], None]:
    """`progress`, called for the first report and then at most once every `min_seconds`."""
    next_at = -math.inf

    def report(fraction: float) -> None:
        nonlocal next_at
        now = clock()
        if now >= next_at:
            next_at = now + min_seconds
            progress(fraction)

    return report


def _by_origin(exc: BaseException, log: BoundedLog) -> Message:
    """Raised through the user's own code (even SystemExit) is theirs; anything else is ours."""
    lines = user_traceback(exc.__traceback__)
    if lines and not isinstance(exc, EngineError):
        return _error("runtime_error", _describe(exc), lines, log)
    # Our bug. Its text may quote what the user's code produced, so the user gets no text at
    # all; the details go to stderr, which the worker logs.
    details = "".join(traceback.format_exception(exc))
    try:
        sys.stderr.write(f"sandbox internal error:\n{details[-STDERR_DETAILS_CHARS:]}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    return _error("internal_error", "", [], log)


def _execute(
    code: CodeType,
    header: dict[str, Any],
    columns: dict[str, dict[str, np.ndarray]],
    log: BoundedLog,
    progress: Callable,
) -> dict[str, Any]:
    namespace = restricted_globals(build_facades(), log)
    exec(code, namespace)  # noqa: S102 - RestrictedPython code object with guarded globals
    strategy_class = find_strategy_class(namespace)
    spec = BacktestSpec.from_dict(header["spec"])
    bars = {symbol: _bar_series(symbol, cols) for symbol, cols in columns.items()}
    run = run_backtest(spec, bars, strategy_class, progress=progress)
    # The curve crosses the pipe as arrays (curve_wire.py), and the orders only when asked for.
    listed = run.to_dict(curve=False, orders=header.get("with_orders", True))
    result = {**listed, "equity_curve": curve_wire(run)}
    indicators = indicators_wire(run.indicators, result, header["limits"])
    return result if indicators is None else {**result, "indicators": indicators}


def find_strategy_class(namespace: dict[str, Any]) -> type:
    classes = [
        value
        for value in namespace.values()
        if isinstance(value, type) and issubclass(value, Strategy) and value is not Strategy
    ]
    if len(classes) != 1:
        raise StrategyError(f"expected exactly one Strategy subclass, found {len(classes)}")
    return classes[0]


def _bar_series(symbol: str, cols: dict[str, np.ndarray]) -> BarSeries:
    series = BarSeries(symbol=symbol, **cols)
    # BarSeries may copy (astype); the user must still only ever see read-only arrays.
    for name in ("timestamps", "open", "high", "low", "close", "volume"):
        getattr(series, name).setflags(write=False)
    return series


def user_traceback(tb: TracebackType | None) -> list[str]:
    """Only frames of the user's file, as 'line N, in func': never engine or sandbox paths."""
    frames = [f for f in traceback.extract_tb(tb) if f.filename == FILENAME]
    return [f"line {f.lineno}, in {f.name}" for f in frames][-MAX_TRACEBACK_LINES:]


def _strategy_error_lines(exc: StrategyError) -> list[str]:
    """The engine keeps full 'File ..., line N, in f' entries; users get 'line N, in f'."""
    if exc.__cause__ is not None:
        return user_traceback(exc.__cause__.__traceback__)
    lines = [m.group(1) for m in map(_ENGINE_FRAME.search, exc.traceback_lines) if m]
    return lines[-MAX_TRACEBACK_LINES:]


def _caused_by_memory(exc: BaseException) -> bool:
    """The engine wraps the user's exceptions; a MemoryError inside is a limit, not a bug."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, MemoryError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _describe(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:  # a user-defined __str__ may itself raise
        text = ""
    name = type(exc).__name__
    return text_bound(f"{name}: {text}", MAX_MESSAGE_CHARS) if text else name


def _validation_error(exc: StrategyValidationError) -> Message:
    problems = [p.to_dict() for p in exc.verdict.problems]
    is_syntax = any(p["code"] in SYNTAX_CODES for p in problems)
    code = "syntax_error" if is_syntax else "forbidden_construct"
    return {
        "type": "error",
        "code": code,
        "message": text_bound(str(exc), MAX_MESSAGE_CHARS),
        "traceback": [],
        "problems": problems_bound(problems),
    }


def _error(code: str, message: str, tb: list[str], log: BoundedLog) -> Message:
    return {
        "type": "error",
        "code": code,
        # Cut here, so a 25 MB exception message never crosses the pipe.
        "message": text_bound(message, MAX_MESSAGE_CHARS),
        "traceback": traceback_bound(list(tb)),
        "logs": log.text(),
        "logs_truncated": log.truncated,
    }


def _fill_numpy_method_caches() -> None:
    """Call each ndarray method NumPy implements in numpy._core._methods once, from here.

    NumPy's C code imports that module on a method's first call through the calling frame's
    __import__; from a strategy that is the restricted importer, which refuses, so
    `close.mean()` failed unless the engine had happened to call `.mean()` first. After one
    call NumPy keeps the function, and nothing is imported again.
    """
    sample = np.arange(1.0, 4.0)
    for method in ("sum", "prod", "mean", "var", "std", "max", "min", "any", "all"):
        getattr(sample, method)()
    sample.clip(0.0, 1.0)


_fill_numpy_method_caches()  # at import: child.py imports this module before the lockdown
