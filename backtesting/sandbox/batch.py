"""run_strategy_batch_in_sandbox(): one jailed child runs a strategy over N parameter sets.

The worker side of the batch protocol (docs/sandbox.md, "Batches"): the bars cross the pipe
once, the code is validated once (in the child, after the lockdown, as for a single run), and
N compact results come back (the headline metrics of each combination, or its error). The
child is the same child with the same lockdown; only its job differs (batch_runner.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from backtesting.engine.barcodec import BarsLike
from backtesting.sandbox.bounds import traceback_bound
from backtesting.sandbox.compact import MAX_ITEM_BYTES, Metrics, metrics_valid
from backtesting.sandbox.errors import (
    CpuTimeLimitError,
    InvalidOutputError,
    SandboxError,
    StrategyRuntimeError,
)
from backtesting.sandbox.isolation import isolation_level
from backtesting.sandbox.launcher import _header, _sandbox_info, interpret
from backtesting.sandbox.limits import SandboxLimits
from backtesting.sandbox.supervisor import Outcome
from backtesting.sandbox.wire import encode_payload
from backtesting.sandbox.zygote import run_child
from strategies.paramspec import ParameterSpace, ParameterSpec

MAX_BATCH_SIZE = 10_000  # combinations in one child; a sweep sends chunks far smaller
# The parameter sets travel in the payload's JSON header (at most 16 MiB in all).
MAX_PARAMETER_SETS_BYTES = 4 * 1024 * 1024
# Besides the items: the result's envelope, the first combination's print log (JSON may
# escape a byte into six) and the usage report.
OUTPUT_SLACK_BYTES = 16 * 1024
LOG_ESCAPE_FACTOR = 6
ProgressCallback = Callable[[int, int], None]


class ParameterSetError(ValueError):
    """Parameter set `index` breaks the declared parameters; nothing was run.

    ``problems`` maps each offending name to what is wrong with it.
    """

    def __init__(self, index: int, problems: dict[str, str]) -> None:
        self.index, self.problems = index, problems
        said = "; ".join(f"{name}: {problem}" for name, problem in problems.items())
        super().__init__(f"parameter set {index}: {said}")


@dataclass(frozen=True)
class BatchItemResult:
    """One combination: its parameters and either its headline metrics or its error."""

    index: int
    parameters: dict[str, Any]
    metrics: Metrics | None = None
    error: SandboxError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class BatchResult:
    """The items in the order of the parameter sets, and the run's "sandbox" report.

    ``sandbox`` has the keys of a single run's (logs, logs_truncated, isolation_level,
    cpu_seconds, wall_seconds, max_rss_bytes); its logs are the first combination's print
    output (every combination prints into a fresh log; only the first one's is kept).
    """

    items: list[BatchItemResult]
    sandbox: dict[str, Any]


def run_strategy_batch_in_sandbox(
    code: str,
    spec: Mapping[str, Any],
    bars: Mapping[str, BarsLike],
    parameter_sets: Sequence[Mapping[str, Any]],
    declared: ParameterSpace | Sequence[ParameterSpec],
    limits: SandboxLimits | None = None,
    on_progress: ProgressCallback | None = None,
    should_cancel: Callable[[], bool] | None = None,
    timeframe: str = "",
) -> BatchResult:
    """Run `code` once per parameter set over the same bars, in one jailed child of its own.

    spec: BacktestSpec.to_dict() (its "params" are replaced by each set); declared: the
    strategy's parameters, each set is checked against them before the child starts; limits:
    those of ONE run (see batch_limits for the batch's); on_progress(done, total) after the
    first combination, then at most every 0.1 s; should_cancel as for run_strategy_in_sandbox.
    Returns a BatchResult whose items follow parameter_sets. A combination failing through
    the user's code is an error item (runtime_error); everything else fails the batch.
    Raises ParameterSetError (nothing run), ValueError for an empty or oversized batch, or a
    SandboxError subclass classified as for a single run.
    """
    resolved = parameter_sets_resolve(declared, parameter_sets)
    per_run = limits or SandboxLimits()
    whole = batch_limits(per_run, len(resolved))
    level = isolation_level()
    header = _header(code, spec, whole, level)
    header["limits"]["item_cpu_seconds"] = per_run.cpu_seconds
    header.update(mode="batch", parameter_sets=resolved)
    outcome = run_child(
        encode_payload(header, bars, timeframe=timeframe),
        whole,
        _progress_in_combinations(on_progress, len(resolved)),
        should_cancel,
    )
    return interpret_batch(outcome, per_run, whole, level, resolved)


def batch_limits(limits: SandboxLimits, n: int) -> SandboxLimits:
    """The limits of a batch of `n` combinations, given those of one run.

    CPU and wall clock: n times one run's, so whatever fits as n single runs fits as a batch
    (one interpreter start-up instead of n only makes room). On top, the child lowers its
    RLIMIT_CPU soft limit before each combination to what it has used plus one run's
    cpu_seconds, so a combination that spins is stopped after its own share. Memory, open
    files and the log: one run's (one process, one combination at a time). Output: n compact
    items plus the log, so a batch can never send more than that.
    """
    return replace(
        limits,
        cpu_seconds=limits.cpu_seconds * n,
        wall_seconds=limits.wall_seconds * n,
        output_bytes=OUTPUT_SLACK_BYTES + LOG_ESCAPE_FACTOR * limits.log_bytes + n * MAX_ITEM_BYTES,
    )


def parameter_sets_resolve(
    declared: ParameterSpace | Sequence[ParameterSpec],
    parameter_sets: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Each set checked by the declared ParameterSpecs, with the defaults filled in.

    Values may be computed (4.0 stands for an int's 4), as the engine allows its callers.
    Raises ParameterSetError for the first bad set, ValueError for an empty or oversized batch.
    """
    if not 1 <= len(parameter_sets) <= MAX_BATCH_SIZE:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH_SIZE:,} parameter sets")
    space = declared if isinstance(declared, ParameterSpace) else ParameterSpace(tuple(declared))
    resolved = []
    for index, given in enumerate(parameter_sets):
        if not isinstance(given, Mapping):
            raise ParameterSetError(index, {"*": "a parameter set must be a mapping"})
        resolution = space.resolve(dict(given), integral_floats=True)
        if not resolution.ok:
            problems = {str(name): "not declared by the strategy" for name in resolution.unknown}
            problems.update({name: str(exc) for name, exc in resolution.errors.items()})
            raise ParameterSetError(index, problems)
        resolved.append(resolution.values)
    if len(json.dumps(resolved)) > MAX_PARAMETER_SETS_BYTES:
        raise ValueError("the parameter sets are too large for one batch; send smaller chunks")
    return resolved


def _progress_in_combinations(
    on_progress: ProgressCallback | None, total: int
) -> Callable[[float], None] | None:
    if on_progress is None:
        return None
    # The child sends done / total; the supervisor clamped it to 0..1 already.
    return lambda fraction: on_progress(round(fraction * total), total)


def interpret_batch(
    outcome: Outcome,
    per_run: SandboxLimits,
    whole: SandboxLimits,
    level: str,
    parameter_sets: list[dict[str, Any]],
) -> BatchResult:
    """Turn a finished batch child into a BatchResult or the matching SandboxError."""
    final = outcome.final
    if not (
        outcome.killed_for is None
        and final is not None
        and final["type"] == "result"
        and outcome.returncode == 0
    ):
        _raise_as_single_run(outcome, per_run, whole, level)
    assert final is not None
    items = _items(final.get("result"), parameter_sets)
    return BatchResult(items, _sandbox_info(final, outcome, whole, level))


def _raise_as_single_run(
    outcome: Outcome, per_run: SandboxLimits, whole: SandboxLimits, level: str
) -> None:
    """Every way a batch fails as a whole is classified exactly as for a single run."""
    try:
        interpret(outcome, whole, level)
    except CpuTimeLimitError:
        raise CpuTimeLimitError(
            f"A combination used more than its {per_run.cpu_seconds} s of CPU time (or the "
            f"batch more than {whole.cpu_seconds} s) and the batch was stopped."
        ) from None
    raise InvalidOutputError()  # interpret() only returns for a finished result


def _items(result: Any, parameter_sets: list[dict[str, Any]]) -> list[BatchItemResult]:
    if not isinstance(result, dict) or set(result) != {"items"}:
        raise InvalidOutputError("The batch result is not an object with items.")
    raw = result["items"]
    if not isinstance(raw, list) or len(raw) != len(parameter_sets):
        raise InvalidOutputError("The batch result has the wrong number of items.")
    return [_item(item, index, parameter_sets[index]) for index, item in enumerate(raw)]


def _item(item: Any, index: int, parameters: dict[str, Any]) -> BatchItemResult:
    """One item as the child sent it, checked: the child ran next to user code."""
    if not isinstance(item, dict) or item.get("index") != index or "ok" not in item:
        raise InvalidOutputError(f"Batch item {index} is malformed.")
    if item["ok"] is True and set(item) == {"index", "ok", "metrics"}:
        if not metrics_valid(item["metrics"]):
            raise InvalidOutputError(f"Batch item {index} has invalid metrics.")
        return BatchItemResult(index, parameters, metrics=item["metrics"])
    if item["ok"] is False and set(item) == {"index", "ok", "error"}:
        return BatchItemResult(index, parameters, error=_item_error(item["error"], index))
    raise InvalidOutputError(f"Batch item {index} is malformed.")


def _item_error(error: Any, index: int) -> SandboxError:
    # Only the user's own failures are per combination; anything else ended the batch.
    if not isinstance(error, dict) or error.get("code") != StrategyRuntimeError.code:
        raise InvalidOutputError(f"Batch item {index} has an invalid error.")
    message = error.get("message")
    # SandboxError bounds the message and the traceback itself.
    return StrategyRuntimeError(
        message if isinstance(message, str) else None,
        traceback=traceback_bound(error.get("traceback")),
    )
