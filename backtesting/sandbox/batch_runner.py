"""Inside the jail, after lockdown: one strategy over N parameter sets, N compact results.

The child side of the batch protocol (docs/sandbox.md, "Batches"). The code is validated and
compiled once; every combination then starts from nothing the previous one touched: the
compiled module runs again into fresh restricted globals with fresh facades and a fresh log,
so the strategy class, its class attributes and every module-level value are new objects, and
run_backtest builds a new strategy instance and a new broker. Only the bars are shared, and
they are read-only arrays backed by immutable bytes.

Imported by child.py before the lockdown, like runner.py.
"""

from __future__ import annotations

import gc
import math
import resource
from collections.abc import Callable
from types import CodeType
from typing import Any

import numpy as np

from backtesting.engine import BacktestSpec, BarSeries, EngineError, StrategyError, run_backtest
from backtesting.sandbox.compact import compact_metrics
from backtesting.sandbox.facades import build_facades
from backtesting.sandbox.guards import BoundedLog, restricted_globals
from backtesting.sandbox.runner import (
    Message,
    _bar_series,
    _by_origin,
    _caused_by_memory,
    _describe,
    _error,
    _strategy_error_lines,
    _validation_error,
    find_strategy_class,
    progress_throttled,
    user_traceback,
)
from strategies.validation import StrategyValidationError, compile_strategy


class _BatchFailed(Exception):
    """Ends the whole batch with `message` (our bug, or a limit of the shared process)."""

    def __init__(self, message: Message) -> None:
        self.message = message


def run_batch(
    header: dict[str, Any], columns: dict[str, dict[str, np.ndarray]], progress: Callable
) -> Message:
    """Every parameter set of header["parameter_sets"]; returns the protocol's final message.

    A combination whose run fails through the user's code becomes an error item and the batch
    goes on; a MemoryError, a memory failure inside the engine or an internal error ends the
    batch (the process is shared, and a bug of ours must not be reported per combination).
    """
    log_bytes = int(header["limits"]["log_bytes"])
    first_log = BoundedLog(log_bytes)
    try:
        code = compile_strategy(header["code"])  # the policy runs once per batch
    except StrategyValidationError as exc:
        return _validation_error(exc)
    bars = {symbol: _bar_series(symbol, cols) for symbol, cols in columns.items()}
    # Everything alive now is ours and lives to the end: frozen, so the collection after each
    # combination only walks what that combination left behind (a few objects, not ~40,000).
    gc.freeze()
    try:
        # One report per combination was a wake-up, a read and a JSON parse in the worker for
        # each (250 a chunk on minute bars), for a progress stored every 0.25 s at most.
        items = _run_all(code, header, bars, first_log, progress_throttled(progress))
    except _BatchFailed as failed:
        return failed.message
    finally:
        gc.unfreeze()
    return {
        "type": "result",
        "result": {"items": items},
        "logs": first_log.text(),
        "logs_truncated": first_log.truncated,
    }


def _run_all(
    code: CodeType,
    header: dict[str, Any],
    bars: dict[str, BarSeries],
    first_log: BoundedLog,
    progress: Callable,
) -> list[dict[str, Any]]:
    sets = header["parameter_sets"]
    items = []
    for index, params in enumerate(sets):
        _limit_cpu_of_next_combination(int(header["limits"]["item_cpu_seconds"]))
        log = first_log if index == 0 else BoundedLog(first_log.limit)
        spec = {**header["spec"], "params": params}
        items.append({"index": index, **_run_one(code, spec, bars, log)})
        # A combination's reference cycles (a strategy holding big arrays) are freed now, not
        # whenever the collector runs: the next combination gets the memory a single run has.
        gc.collect()
        progress((index + 1) / len(sets))
    return items


def _run_one(
    code: CodeType, spec: dict[str, Any], bars: dict[str, BarSeries], log: BoundedLog
) -> dict[str, Any]:
    try:
        return {"ok": True, "metrics": _metrics(code, spec, bars, log)}
    except StrategyError as exc:
        if _caused_by_memory(exc):
            raise _BatchFailed(
                _error("memory_limit", "The strategy ran out of memory.", [], log)
            ) from None
        return _item_error(exc.message, _strategy_error_lines(exc))
    except MemoryError:
        raise  # child.py turns this into its memory exit code without allocating more
    except BaseException as exc:
        lines = user_traceback(exc.__traceback__)
        if lines and not isinstance(exc, EngineError):
            return _item_error(_describe(exc), lines)
        raise _BatchFailed(_by_origin(exc, log)) from None


def _metrics(
    code: CodeType, spec: dict[str, Any], bars: dict[str, BarSeries], log: BoundedLog
) -> dict[str, Any]:
    namespace = restricted_globals(build_facades(), log)
    exec(code, namespace)  # noqa: S102 - RestrictedPython code object with guarded globals
    strategy_class = find_strategy_class(namespace)
    # Headline statistics only: the sweep stores no more (compact.HEADLINE_METRICS), and the
    # values are the full run's; "backtest this combination" gives the rest.
    result = run_backtest(BacktestSpec.from_dict(spec), bars, strategy_class, full_statistics=False)
    return compact_metrics(result.statistics)


def _item_error(message: str, lines: list[str]) -> dict[str, Any]:
    # Bounded like a single run's error (runner._error), without the log.
    error = _error("runtime_error", message, lines, BoundedLog(0))
    return {"ok": False, "error": {k: error[k] for k in ("code", "message", "traceback")}}


def cpu_soft_limit(used_seconds: float, item_seconds: int, batch_seconds: int) -> int:
    """RLIMIT_CPU's soft limit for the next combination: its share on top of what is used.

    Never above the batch's own soft limit (`batch_seconds`, set at lockdown): that stays the
    ceiling, and raising a soft limit up to the hard one is all an unprivileged process can do.
    """
    return min(math.ceil(used_seconds) + item_seconds, batch_seconds)


def _limit_cpu_of_next_combination(item_seconds: int) -> None:
    # A combination that spins is stopped by SIGXCPU after its own share, not after the
    # whole batch's budget.
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    if hard == resource.RLIM_INFINITY:
        return  # not locked down (a test calling run_batch in-process)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    ceiling = hard - 1  # lockdown set (cpu, cpu + 1)
    resource.setrlimit(
        resource.RLIMIT_CPU,
        (cpu_soft_limit(usage.ru_utime + usage.ru_stime, item_seconds, ceiling), hard),
    )
