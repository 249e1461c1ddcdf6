"""run_strategy_batch_in_sandbox(): N parameter sets in one jailed child, N compact results.

Each combination must equal a single sandbox run with the same parameters, start from fresh
strategy state, and fail alone when the user's code fails; everything else fails the batch
with the classification of a single run, under the same lockdown.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from backtesting.engine import BacktestSpec, BarSeries
from backtesting.sandbox import (
    BatchResult,
    ParameterSetError,
    SandboxError,
    SandboxLimits,
    batch,
    batch_runner,
    launcher,
    run_strategy_batch_in_sandbox,
    run_strategy_in_sandbox,
)
from backtesting.sandbox.batch import batch_limits, interpret_batch, parameter_sets_resolve
from backtesting.sandbox.batch_runner import cpu_soft_limit
from backtesting.sandbox.compact import HEADLINE_METRICS, MAX_ITEM_BYTES
from backtesting.sandbox.supervisor import Outcome
from strategies.paramspec import ParameterSpec
from strategies.validation import validate_strategy_code
from tests.sandbox.conftest import HEADER, PROJECT_ROOT, SECRET, SMA_CROSS, leaked_text
from tests.sandbox.test_attacks import ATTACKS

MIB = 1024 * 1024
LIMITS = SandboxLimits(cpu_seconds=2, wall_seconds=8.0, memory_bytes=512 * MIB)
BAR_FIELDS = ("timestamps", "open", "high", "low", "close", "volume")
SMA_SETS = [
    {"fast": 5, "slow": 20},
    {"fast": 10, "slow": 30},
    {"fast": 3, "slow": 50},
    {"fast": 20, "slow": 60},
]
# A module-level list and a class-level list: if either survived from an earlier combination,
# `shift` would grow and the moving averages (so every metric) would change.
LEAKY = HEADER + (
    "HISTORY = []\n\n\n"
    "class Leaky(Strategy):\n"
    "    fast = Param(10, min=2, max=100)\n"
    "    slow = Param(30, min=5, max=200)\n"
    "    seen = []\n\n"
    "    def init(self):\n"
    "        HISTORY.append(self.fast)\n"
    "        self.seen.append(self.slow)\n"
    "        shift = len(HISTORY) + len(self.seen)\n"
    "        self.a = self.I(ta.sma, self.data.close, self.fast + shift)\n"
    "        self.b = self.I(ta.sma, self.data.close, self.slow + shift)\n\n"
    "    def next(self):\n"
    "        if ta.crossover(self.a, self.b):\n"
    "            self.buy()\n"
    "        elif ta.crossunder(self.a, self.b):\n"
    "            self.close()\n"
)


def sma_with(body: str) -> str:
    """The SMA crossover with `body` run first in next() (indented lines)."""
    return SMA_CROSS.replace(
        "    def next(self):\n",
        "    def next(self):\n        " + body.replace("\n", "\n        ") + "\n",
    )


def declared(code: str) -> list[ParameterSpec]:
    verdict = validate_strategy_code(code)
    assert verdict.ok, verdict.problems
    return list(verdict.parameters)


@pytest.fixture
def run_batch(spec: dict[str, Any], bars: dict[str, BarSeries]) -> Callable[..., BatchResult]:
    def _run(code: str, sets: list[dict[str, Any]], **kwargs: Any) -> BatchResult:
        kwargs.setdefault("limits", LIMITS)
        params = kwargs.pop("declared") if "declared" in kwargs else declared(code)
        return run_strategy_batch_in_sandbox(code, spec, bars, sets, params, **kwargs)

    return _run


def single_metrics(
    code: str, params: dict[str, Any], spec: dict[str, Any], bars: dict[str, BarSeries]
) -> dict[str, Any]:
    result = run_strategy_in_sandbox(code, {**spec, "params": params}, bars, LIMITS)
    return {key: result["statistics"][key] for key in HEADLINE_METRICS}


# ------------------------------------------------------------------ results


def test_each_combination_equals_a_single_sandbox_run_with_its_parameters(
    run_batch: Callable[..., BatchResult], spec: dict[str, Any], bars: dict[str, BarSeries]
) -> None:
    result = run_batch(SMA_CROSS, SMA_SETS)
    assert [item.parameters for item in result.items] == SMA_SETS
    assert all(item.ok for item in result.items)
    for item, params in zip(result.items, SMA_SETS, strict=True):
        assert item.metrics == single_metrics(SMA_CROSS, params, spec, bars)
    returns = {item.metrics["total_return"] for item in result.items if item.metrics}
    assert len(returns) == len(SMA_SETS), "the combinations differ, so the check has teeth"
    assert result.sandbox["isolation_level"] == launcher.isolation_level()


def test_progress_counts_combinations_done(run_batch: Callable[..., BatchResult]) -> None:
    seen: list[tuple[int, int]] = []
    run_batch(SMA_CROSS, SMA_SETS, on_progress=lambda done, total: seen.append((done, total)))
    # The first combination always reports; later ones at most every PROGRESS_MIN_SECONDS.
    assert seen[0] == (1, 4)
    assert all(total == 4 for _, total in seen)
    assert [done for done, _ in seen] == sorted({done for done, _ in seen})


def test_a_batch_reports_progress_at_most_every_tenth_of_a_second(
    spec: dict[str, Any], bars: dict[str, BarSeries]
) -> None:
    # Each report is a wake-up, a read and a JSON parse in the worker: 20 quick combinations
    # (a few ms each here) send one, not twenty.
    header = {
        "code": SMA_CROSS,
        "spec": spec,
        "parameter_sets": [SMA_SETS[k % len(SMA_SETS)] for k in range(20)],
        "limits": {**LIMITS.to_dict(), "item_cpu_seconds": 60},
    }
    columns = {s: {f: getattr(b, f) for f in BAR_FIELDS} for s, b in bars.items()}
    reports: list[float] = []
    message = batch_runner.run_batch(header, columns, reports.append)
    assert message["type"] == "result" and len(message["result"]["items"]) == 20
    assert reports[0] == 1 / 20 and len(reports) < 5


@pytest.mark.parametrize("order", ["forward", "reversed"])
def test_no_state_leaks_between_combinations(
    order: str,
    run_batch: Callable[..., BatchResult],
    spec: dict[str, Any],
    bars: dict[str, BarSeries],
) -> None:
    sets = SMA_SETS[:3] if order == "forward" else SMA_SETS[:3][::-1]
    result = run_batch(LEAKY, sets)
    for item, params in zip(result.items, sets, strict=True):
        assert item.metrics == single_metrics(LEAKY, params, spec, bars)


def test_the_same_combination_repeated_gives_the_same_metrics(
    run_batch: Callable[..., BatchResult],
) -> None:
    result = run_batch(LEAKY, [SMA_SETS[0]] * 3)
    assert result.items[0].metrics == result.items[1].metrics == result.items[2].metrics


def test_the_first_combinations_print_output_is_returned(
    run_batch: Callable[..., BatchResult],
) -> None:
    result = run_batch(sma_with("if len(self.data.close) == 60:\n    print('fast', self.fast)"),
                       SMA_SETS[:2])  # fmt: skip
    assert result.sandbox["logs"] == "fast 5\n"


def test_memory_a_combination_kept_in_a_reference_cycle_is_free_for_the_next(
    run_batch: Callable[..., BatchResult], spec: dict[str, Any], bars: dict[str, BarSeries]
) -> None:
    # 160 MB held by a strategy in a cycle fits a 512 MiB address space once, not twice: a
    # batch must not fail where every single run succeeds.
    code = HEADER + (
        "class Big(Strategy):\n"
        "    fast = Param(10, min=2, max=100)\n\n"
        "    def init(self):\n"
        "        self.big = np.ones(20_000_000)\n"
        "        self.me = [self]\n\n"
        "    def next(self):\n"
        "        if not self.position():\n"
        "            self.buy()\n"
    )
    result = run_batch(code, [{"fast": 5}] * 3)
    alone = single_metrics(code, {"fast": 5}, spec, bars)
    assert [item.metrics for item in result.items] == [alone] * 3


# ------------------------------------------------------------------ failures


def test_a_users_exception_fails_only_its_combination(
    run_batch: Callable[..., BatchResult],
) -> None:
    code = sma_with("if self.fast == 10:\n    raise ValueError('no ten, ' + str(self.slow))")
    result = run_batch(code, SMA_SETS[:3])
    ok_first, failed, ok_last = result.items
    assert ok_first.ok and ok_last.ok and not failed.ok
    assert failed.metrics is None and failed.error is not None
    assert failed.error.code == "runtime_error" and failed.error.user_fault
    assert failed.error.message == "ValueError: no ten, 30"
    assert failed.error.traceback == ["line 17, in next"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # What the validator lets through and only the run-time guards refuse; the first two
        # would poison every later combination of the batch if they succeeded.
        ("ta.sma = ta.ema", "cannot modify objects of type SimpleNamespace"),
        ("Strategy.buy = None", "cannot modify objects of type type"),
        ("self.data.close[-1] = 0.0", "cannot modify objects of type SeriesView"),
    ],
    ids=["poison_facade", "poison_base_class", "write_bars"],
)
def test_an_escape_attempt_in_one_combination_is_refused_as_in_a_single_run(
    body: str, message: str, run_batch: Callable[..., BatchResult]
) -> None:
    result = run_batch(sma_with(f"if self.fast == 3:\n    {body}"), SMA_SETS[:3])
    assert [item.ok for item in result.items] == [True, True, False]
    error = result.items[2].error
    assert error is not None and error.code == "runtime_error"
    assert message in error.message
    assert SECRET not in leaked_text(error)


@pytest.mark.parametrize(
    ("body", "code"),
    [("import os", "forbidden_construct"),
     ("print(open('/etc/passwd').read())", "forbidden_construct"),
     ("if True\n    pass", "syntax_error")],
    ids=["import_os", "open", "syntax"],
)  # fmt: skip
def test_code_the_policy_refuses_fails_the_batch_before_any_combination_runs(
    body: str, code: str, run_batch: Callable[..., BatchResult]
) -> None:
    seen: list[tuple[int, int]] = []
    with pytest.raises(SandboxError) as caught:
        run_batch(sma_with(body), SMA_SETS, declared=declared(SMA_CROSS),
                  on_progress=lambda done, total: seen.append((done, total)))  # fmt: skip
    assert caught.value.code == code
    assert seen == []


def test_the_policy_runs_once_per_batch_not_per_combination(
    monkeypatch: pytest.MonkeyPatch, bars: dict[str, BarSeries]
) -> None:
    # The child's job in this process (trusted test code): counts the validator's runs.
    calls: list[str] = []
    real = batch_runner.compile_strategy

    def counting(code: str) -> Any:
        calls.append(code)
        return real(code)

    monkeypatch.setattr(batch_runner, "compile_strategy", counting)
    columns = {s: {n: getattr(b, n) for n in ("timestamps", "open", "high", "low", "close",
                                               "volume")} for s, b in bars.items()}  # fmt: skip
    header = {
        "code": SMA_CROSS, "spec": BacktestSpec().to_dict(), "parameter_sets": SMA_SETS,
        "limits": {**LIMITS.to_dict(), "item_cpu_seconds": 10**6},
    }  # fmt: skip
    message = batch_runner.run_batch(header, columns, lambda fraction: None)
    assert message["type"] == "result" and len(message["result"]["items"]) == 4
    assert calls == [SMA_CROSS]


def test_a_memory_error_in_one_combination_fails_the_batch_as_memory_limit(
    run_batch: Callable[..., BatchResult],
) -> None:
    with pytest.raises(SandboxError) as caught:
        run_batch(sma_with("if self.fast == 10:\n    x = [0] * (10 ** 10)"), SMA_SETS[:3],
                  declared=declared(SMA_CROSS))  # fmt: skip
    assert caught.value.code == "memory_limit"


def test_a_spinning_combination_is_stopped_after_its_own_cpu_share(
    run_batch: Callable[..., BatchResult],
) -> None:
    # 200 combinations of 1 s CPU and 0.1 s wall each: the batch may use 200 s of CPU and
    # 20 s of wall clock. The spinner in the first combination must hit its own 1 s share
    # (cpu_time_limit, after ~2 s); with only the batch's CPU limit it would spin until the
    # wall clock ran out (wall_clock_limit).
    sets = [{"fast": 10, "slow": 20 + k} for k in range(200)]
    limits = SandboxLimits(cpu_seconds=1, wall_seconds=0.1, memory_bytes=512 * MIB)
    with pytest.raises(SandboxError) as caught:
        run_batch(sma_with("while self.fast == 10:\n    pass"), sets, limits=limits,
                  declared=declared(SMA_CROSS))  # fmt: skip
    assert caught.value.code == "cpu_time_limit"
    assert "A combination used more than its 1 s of CPU time" in caught.value.message


# A child that reports one combination done, then crashes while "user code" runs.
CRASH_AFTER_ONE = (
    "import ctypes, os\n"
    'os.write(1, b\'{"type":"started"}\\n{"type":"progress","fraction":0.25}\\n\')\n'
    "ctypes.string_at(0)\n"
)


def test_a_crash_mid_batch_fails_it_as_a_crash_and_the_worker_lives(
    run_batch: Callable[..., BatchResult],
    monkeypatch: pytest.MonkeyPatch,
    child_program: Callable[..., None],
) -> None:
    child_program(CRASH_AFTER_ONE)
    seen: list[tuple[int, int]] = []
    with pytest.raises(SandboxError) as caught:
        run_batch(SMA_CROSS, SMA_SETS, on_progress=lambda done, total: seen.append((done, total)))
    assert caught.value.code == "child_crashed" and caught.value.user_fault
    assert "(segmentation fault, signal 11)" in caught.value.message
    assert seen == [(1, 4)]
    monkeypatch.undo()
    assert run_batch(SMA_CROSS, SMA_SETS[:1]).items[0].ok, "this process still runs batches"


def test_cancel_between_combinations_kills_the_child(
    run_batch: Callable[..., BatchResult],
) -> None:
    # The second combination never ends on its own: returning at all means the child was killed.
    seen: list[tuple[int, int]] = []
    code = sma_with("while self.fast == 10:\n    pass")
    with pytest.raises(SandboxError) as caught:
        run_batch(code, SMA_SETS, declared=declared(SMA_CROSS),
                  limits=SandboxLimits(cpu_seconds=30, wall_seconds=60.0, memory_bytes=512 * MIB),
                  on_progress=lambda done, total: seen.append((done, total)),
                  should_cancel=lambda: bool(seen))  # fmt: skip
    assert caught.value.code == "cancelled"
    assert seen == [(1, 4)]


# ------------------------------------------------------------------ parameter sets


def test_a_bad_parameter_set_is_refused_before_any_child_starts(
    run_batch: Callable[..., BatchResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_child(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a child was started")

    monkeypatch.setattr(batch, "run_child", no_child)
    sets = [{"fast": 5}, {"fast": 3, "slow": 500, "speed": 1}]
    with pytest.raises(ParameterSetError) as caught:
        run_batch(SMA_CROSS, sets)
    assert caught.value.index == 1
    assert caught.value.problems == {
        "speed": "not declared by the strategy",
        "slow": "parameter slow=500 is above its maximum 400",
    }
    with pytest.raises(ParameterSetError) as wrong_type:
        run_batch(SMA_CROSS, [{"fast": "5"}])
    assert wrong_type.value.problems == {"fast": "parameter fast='5' is not a int"}
    with pytest.raises(ValueError, match="1 to 10,000"):
        run_batch(SMA_CROSS, [])


def test_parameter_sets_are_sent_complete_and_typed() -> None:
    specs = declared(SMA_CROSS)
    assert parameter_sets_resolve(specs, [{"fast": 4.0}, {}]) == [
        {"fast": 4, "slow": 20},
        {"fast": 10, "slow": 20},
    ]


# ------------------------------------------------------------------ limits and output


def test_batch_limits_scale_cpu_wall_and_output_with_the_number_of_combinations() -> None:
    one = SandboxLimits(cpu_seconds=3, wall_seconds=5.0, memory_bytes=512 * MIB, log_bytes=1000)
    whole = batch_limits(one, 90)
    assert (whole.cpu_seconds, whole.wall_seconds) == (270, 450.0)
    assert whole.memory_bytes == one.memory_bytes and whole.max_open_files == one.max_open_files
    assert whole.output_bytes == 16 * 1024 + 6 * 1000 + 90 * MAX_ITEM_BYTES


def test_each_combination_gets_its_own_share_of_the_cpu_limit() -> None:
    assert cpu_soft_limit(0.2, 5, 450) == 6
    assert cpu_soft_limit(12.0, 5, 450) == 17
    assert cpu_soft_limit(448.5, 5, 450) == 450, "never above the batch's limit"


METRICS = dict.fromkeys(HEADLINE_METRICS, 0.5) | {"n_trades": 3, "n_days": 300}


def finished(items: Any) -> Outcome:
    return Outcome(final={"type": "result", "result": {"items": items}}, returncode=0)


@pytest.mark.parametrize(
    "items",
    [
        [{"index": 0, "ok": True, "metrics": METRICS}],  # one item for two sets
        [{"index": 1, "ok": True, "metrics": METRICS}] * 2,
        [{"index": 0, "ok": True, "metrics": {**METRICS, "n_trades": 1.5}},
         {"index": 1, "ok": True, "metrics": METRICS}],
        [{"index": 0, "ok": True, "metrics": {**METRICS, "extra": 1}},
         {"index": 1, "ok": True, "metrics": METRICS}],
        [{"index": 0, "ok": True, "metrics": METRICS, "trades": []},
         {"index": 1, "ok": True, "metrics": METRICS}],
        [{"index": 0, "ok": False, "error": {"code": "cancelled", "message": "x"}},
         {"index": 1, "ok": True, "metrics": METRICS}],
        [{"index": 0, "ok": False, "error": {"code": "internal_error", "message": "x"}},
         {"index": 1, "ok": True, "metrics": METRICS}],
        [{"index": 0, "ok": True, "metrics": {**METRICS, "sharpe_ratio": 10**400}},
         {"index": 1, "ok": True, "metrics": METRICS}],
        [{"index": 0, "ok": True, "metrics": {**METRICS, "cagr": True}},
         {"index": 1, "ok": True, "metrics": METRICS}],
        [{"index": 0, "ok": True, "metrics": {**METRICS, "n_days": None}},
         {"index": 1, "ok": True, "metrics": METRICS}],
        [{"index": 0, "ok": True, "metrics": {**METRICS, "cagr": "0.5"}},
         {"index": 1, "ok": True, "metrics": METRICS}],
        [{"index": 0, "ok": True, "metrics": {**METRICS, "cagr": float("inf")}},
         {"index": 1, "ok": True, "metrics": METRICS}],
        [{"index": 0, "ok": True, "metrics": [0.5] * len(METRICS)},
         {"index": 1, "ok": True, "metrics": METRICS}],
    ],
    ids=["count", "index", "int_metric", "extra_metric", "extra_field", "forged_cancel",
         "forged_internal", "huge_int", "bool_metric", "none_count", "text_metric",
         "inf_metric", "list_metrics"],
)  # fmt: skip
def test_malformed_or_forged_items_are_invalid_output(items: Any) -> None:
    with pytest.raises(SandboxError) as caught:
        interpret_batch(finished(items), LIMITS, LIMITS, "rlimits", [{}, {}])
    assert caught.value.code == "invalid_output" and not caught.value.user_fault


def test_every_kind_of_valid_metric_value_is_accepted() -> None:
    metrics = {**METRICS, "cagr": None, "sharpe_ratio": -2, "calmar_ratio": 1e300, "n_trades": 0}
    result = interpret_batch(
        finished([{"index": 0, "ok": True, "metrics": metrics}]), LIMITS, LIMITS, "rlimits", [{}]
    )
    assert result.items[0].metrics == metrics


def test_an_item_error_is_bounded_like_a_single_runs() -> None:
    error = {"code": "runtime_error", "message": "x" * 10_000, "traceback": ["l"] * 50}
    result = interpret_batch(
        finished([{"index": 0, "ok": False, "error": error}]), LIMITS, LIMITS, "rlimits", [{}]
    )
    item_error = result.items[0].error
    assert item_error is not None and len(item_error.message) == 2_000
    assert len(item_error.traceback) == 20


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (Outcome(returncode=-11, user_code_started=True), "child_crashed"),
        (Outcome(returncode=3), "memory_limit"),
        (Outcome(killed_for="output_too_large"), "output_too_large"),
        (Outcome(final={"type": "error", "code": "memory_limit", "message": "m"}, returncode=0),
         "memory_limit"),
        (Outcome(final={"type": "error", "code": "cancelled"}, returncode=0), "invalid_output"),
        (Outcome(final={"type": "result", "result": {"items": []}}, returncode=1,
                 user_code_started=True), "internal_error"),
    ],
)  # fmt: skip
def test_a_failed_batch_is_classified_as_a_single_run(outcome: Outcome, code: str) -> None:
    with pytest.raises(SandboxError) as caught:
        interpret_batch(outcome, LIMITS, LIMITS, "rlimits", [{}])
    assert caught.value.code == code


def test_a_batch_loads_no_module_after_the_lockdown() -> None:
    """As for a single run: everything the batch needs is imported before the lockdown."""
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from backtesting.sandbox import batch_runner, runner  # what child.py imports\n"
        "from tests.sandbox.conftest import make_bars\n"
        "from backtesting.engine import BacktestSpec\n"
        "from backtesting.sandbox.limits import SandboxLimits\n"
        "cols = {s: {n: getattr(b, n) for n in ('timestamps', 'open', 'high', 'low', 'close',"
        " 'volume')} for s, b in make_bars().items()}\n"
        "header = {'code': sys.stdin.read(), 'spec': BacktestSpec().to_dict(),"
        " 'parameter_sets': [{'fast': 5}, {'fast': 8}],"
        " 'limits': {**SandboxLimits().to_dict(), 'item_cpu_seconds': 10**6}}\n"
        "before = set(sys.modules)\n"
        "message = batch_runner.run_batch(header, cols, lambda fraction: None)\n"
        "assert message['type'] == 'result', message\n"
        "assert all(item['ok'] for item in message['result']['items']), message\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", probe, str(PROJECT_ROOT)],
        input=SMA_CROSS, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_without_bubblewrap_a_batch_runs_at_the_rlimits_level(
    run_batch: Callable[..., BatchResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    from backtesting.sandbox import isolation

    monkeypatch.setattr(isolation, "find_bwrap", lambda: None)
    monkeypatch.setattr(batch, "isolation_level", lambda: "rlimits")
    result = run_batch(SMA_CROSS, SMA_SETS[:2])
    assert result.sandbox["isolation_level"] == "rlimits"
    assert all(item.ok for item in result.items)


# The real child, with its batch job wrapped to report the process's limits from inside it,
# after the lockdown, in place of the first combination's print log.
REPORT_LOCKDOWN = (
    "import sys; sys.path.insert(0, sys.argv[1])\n"
    "import ctypes, json, os, resource\n"
    "from backtesting.sandbox import batch_runner, child\n"
    "real = batch_runner.run_batch\n"
    "def reporting(header, columns, progress):\n"
    "    message = real(header, columns, progress)\n"
    "    names = ('RLIMIT_AS', 'RLIMIT_NPROC', 'RLIMIT_FSIZE', 'RLIMIT_NOFILE', 'RLIMIT_CPU')\n"
    "    message['logs'] = json.dumps({\n"
    "        'rlimits': {n: resource.getrlimit(getattr(resource, n)) for n in names},\n"
    "        'seccomp_mode': ctypes.CDLL(None).prctl(21, 0, 0, 0, 0),\n"
    "        'uid': os.getuid(), 'env': sorted(os.environ)})\n"
    "    return message\n"
    "batch_runner.run_batch = reporting\n"
)


def test_a_batch_runs_under_the_single_runs_lockdown(
    run_batch: Callable[..., BatchResult], child_program: Callable[..., None]
) -> None:
    child_program(
        REPORT_LOCKDOWN + "child.main()\n",
        zygote_program=REPORT_LOCKDOWN + "from backtesting.sandbox import zygote_jailed\n"
        "zygote_jailed.main()\n",
    )
    result = run_batch(SMA_CROSS, SMA_SETS[:3])
    assert all(item.ok for item in result.items)
    seen = json.loads(result.sandbox["logs"])
    limits = seen["rlimits"]
    assert limits["RLIMIT_AS"] == [LIMITS.memory_bytes] * 2
    assert limits["RLIMIT_NPROC"] == [0, 0] and limits["RLIMIT_FSIZE"] == [0, 0]
    assert limits["RLIMIT_NOFILE"] == [LIMITS.max_open_files] * 2
    # The batch's hard CPU limit; the soft one is the last combination's share.
    assert limits["RLIMIT_CPU"][1] == 3 * LIMITS.cpu_seconds + 1
    assert limits["RLIMIT_CPU"][0] <= 1 + LIMITS.cpu_seconds
    if launcher.isolation_level() == "bubblewrap+seccomp":
        assert seen["seccomp_mode"] == 2
    if os.geteuid() == 0:
        assert seen["uid"] == 65534
    assert not set(seen["env"]) & {"DATABASE_URL", "SECRET_KEY", "REDIS_URL"}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_the_attack_corpus_fails_in_a_batch_as_in_a_single_run(
    name: str,
    run_batch: Callable[..., BatchResult],
    listener: socket.socket,
    no_new_files: None,
) -> None:
    code, expected = ATTACKS[name]
    code = code.replace("('127.0.0.1', 1)", f"('127.0.0.1', {listener.getsockname()[1]})")
    try:
        result = run_batch(code, [{}, {}], declared=[])
    except SandboxError as exc:  # the whole batch: refused code, a limit, a crash
        assert exc.code in expected, exc.to_dict()
        assert SECRET not in leaked_text(exc)
    else:  # each combination failed on its own, as the single run did
        errors = [item.error for item in result.items]
        assert all(e is not None and e.code in expected for e in errors), errors
        assert SECRET not in leaked_text([e.to_dict() for e in errors if e]) + str(result.sandbox)
    with pytest.raises(BlockingIOError):
        listener.accept()
