"""What the worker accepts from the child: values it can store, text of bounded size.

A result the database cannot store must fail the run at the sandbox boundary (as the user's
error when the user chose the value), never later in the job's write; user text of any size
must reach the worker cut to the limits in docs/sandbox.md.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from backtesting.sandbox import SandboxError, SandboxLimits
from backtesting.sandbox.curve_wire import CURVE_KEYS
from backtesting.sandbox.launcher import interpret
from backtesting.sandbox.results import validate_result
from backtesting.sandbox.supervisor import Outcome
from tests.sandbox.conftest import HEADER

LIMITS = SandboxLimits(cpu_seconds=2, wall_seconds=8.0, memory_bytes=512 * 1024 * 1024)
SMALL_ERROR_BYTES = 20_000  # what a stored error may weigh, whatever the user raised
TRADE = {
    "id": 1, "symbol": "AAA", "direction": "long", "size": 10.0, "entry_bar": 5,
    "entry_time": "2022-03-16T00:00:00Z", "entry_price": 92.2, "exit_bar": 9,
    "exit_time": "2022-03-20T00:00:00Z", "exit_price": 95.0, "gross_pnl": 28.0,
    "net_pnl": 28.0, "gross_pnl_pct": 3.0, "net_pnl_pct": 3.0, "commission": 0.0,
    "borrow_cost": 0.0, "slippage_cost": 0.0, "fees": 0.0, "duration_seconds": 345600.0,
    "bars_held": 4, "mae_pct": -0.5, "mfe_pct": 3.1, "tag": None, "ambiguous": False,
    "open": False, "exit_reason": "close",
}  # fmt: skip
ORDER = {"id": 1, "symbol": "AAA", "side": "buy", "kind": "market", "tag": None}
SPEC = {"initial_cash": 100_000.0, "params": {"fast": 10}}


def tagging_strategy(tag_expression: str) -> str:
    return HEADER + (
        "class Tagged(Strategy):\n"
        "    def next(self):\n"
        "        if not self.position():\n"
        f"            self.buy(tag={tag_expression})\n"
        "        else:\n"
        "            self.close()\n"
    )


def engine_result(n_trades: int = 3) -> dict[str, Any]:
    """A well-formed result as the child sends it (BacktestResult.to_dict() shape)."""
    trades = [{**TRADE, "id": i + 1} for i in range(n_trades)]
    orders = [{**ORDER, "id": i + 1} for i in range(n_trades)]
    return {
        "engine_version": "1.4.0", "mode": "event", "symbols": ["AAA"],
        "spec": copy.deepcopy(SPEC), "start_bar": 0, "eval_start_bar": 0,
        "equity_curve": dict.fromkeys(CURVE_KEYS, ""),
        "trades": trades, "orders": orders, "statistics": {"n_trades": n_trades},
    }  # fmt: skip


def validate(result: dict[str, Any]) -> dict[str, Any]:
    return validate_result(result, spec=SPEC, symbols=["AAA"])


# ------------------------------------------------------------------ values the database limits


def test_an_order_tag_longer_than_storage_allows_fails_the_run_as_the_users_error(
    run: Callable[..., dict[str, Any]],
) -> None:
    assert {t["tag"] for t in run(tagging_strategy("'x' * 100"))["trades"]} == {"x" * 100}
    with pytest.raises(SandboxError) as caught:
        run(tagging_strategy("'x' * 101"))
    error = caught.value
    assert error.code == "runtime_error" and error.user_fault
    assert "tag" in error.message and "100 characters" in error.message


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("x" * 101, "order tag longer than 100 characters at trade 2"),
        ("a\x00b", "order tag contains a NUL character at trade 2"),
        ("a\ud800b", "order tag is not valid Unicode text at trade 2"),
    ],
    ids=["too_long", "nul", "lone_surrogate"],
)
def test_a_tag_the_database_cannot_store_is_named_with_its_trade(tag: str, expected: str) -> None:
    result = engine_result()
    result["trades"][1]["tag"] = tag
    with pytest.raises(SandboxError) as caught:
        validate(result)
    assert caught.value.code == "runtime_error" and caught.value.user_fault
    assert caught.value.message.startswith(expected)


def test_a_tag_on_an_order_that_never_filled_is_checked_too() -> None:
    result = engine_result()
    result["orders"][2]["tag"] = "y" * 500
    with pytest.raises(SandboxError) as caught:
        validate(result)
    assert caught.value.message.startswith("order tag longer than 100 characters at order 3")


def test_more_trades_than_a_backtest_may_store_is_the_users_error() -> None:
    with pytest.raises(SandboxError) as caught:
        validate(engine_result(n_trades=100_001))
    assert caught.value.code == "runtime_error" and caught.value.user_fault
    assert "100,000 trades" in caught.value.message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", 2**31),
        ("id", -1),
        ("bars_held", 2**40),
        ("exit_reason", "r" * 33),
        ("direction", "sideways"),
        ("symbol", "ZZZ"),
        ("entry_time", "yesterday"),
        ("entry_price", "12"),
        ("open", "no"),
    ],
)
def test_an_engine_field_out_of_storage_range_is_invalid_output(field: str, value: Any) -> None:
    result = engine_result()
    result["trades"][0][field] = value
    with pytest.raises(SandboxError) as caught:
        validate(result)
    assert caught.value.code == "invalid_output" and not caught.value.user_fault


def test_the_parameter_echo_must_be_what_the_worker_sent() -> None:
    assert validate(engine_result())["spec"]["params"] == {"fast": 10}
    result = engine_result()
    result["spec"]["params"] = {"fast": "p" * 1_000_000}
    with pytest.raises(SandboxError) as caught:
        validate(result)
    assert caught.value.code == "invalid_output"
    result = engine_result()
    result["spec"]["fill_mode"] = "m" * 1_000_000
    with pytest.raises(SandboxError) as caught:
        validate(result)
    assert caught.value.code == "invalid_output"


def test_a_long_engine_version_is_invalid_output() -> None:
    result = engine_result()
    result["engine_version"] = "v" * 33
    with pytest.raises(SandboxError) as caught:
        validate(result)
    assert caught.value.code == "invalid_output"


# ------------------------------------------------------------------ user text of any size


@pytest.mark.parametrize(
    "where",
    [
        "class Big(Strategy):\n    def next(self):\n        raise ValueError('x' * 25_000_000)\n",
        "def boom():\n    raise ValueError('x' * 25_000_000)\n"
        "class Big(Strategy):\n    marker = boom()\n    def next(self):\n        pass\n",
    ],
    ids=["in_next", "in_the_class_body"],
)
def test_a_25_mb_exception_message_reaches_the_worker_cut_with_a_marker(
    run: Callable[..., dict[str, Any]], where: str
) -> None:
    with pytest.raises(SandboxError) as caught:
        run(HEADER + where)
    error = caught.value
    assert error.code == "runtime_error"
    assert len(json.dumps(error.to_dict())) <= SMALL_ERROR_BYTES
    assert error.message.startswith("ValueError: xxx")
    assert "truncated" in error.message


def test_traceback_lines_are_bounded_in_count_and_length(
    run: Callable[..., dict[str, Any]],
) -> None:
    name = "deep" + "p" * 3000
    code = HEADER + (
        f"def {name}(n):\n"
        f"    return {name}(n + 1)\n"
        "class Deep(Strategy):\n"
        "    def next(self):\n"
        f"        {name}(0)\n"
    )
    with pytest.raises(SandboxError) as caught:
        run(code)
    lines = caught.value.traceback
    assert caught.value.code == "runtime_error"
    assert 0 < len(lines) <= 20
    assert all(len(line) <= 200 for line in lines)
    assert len(json.dumps(caught.value.to_dict())) <= SMALL_ERROR_BYTES


def test_print_output_is_bounded_in_lines_and_made_storable(
    run: Callable[..., dict[str, Any]],
) -> None:
    code = HEADER + (
        "class Chatty(Strategy):\n"
        "    def init(self):\n"
        "        print('a\\x00b' + '\\n' * 50_000)\n"
        "    def next(self):\n"
        "        pass\n"
    )
    result = run(code)
    logs = result["sandbox"]["logs"]
    assert result["sandbox"]["logs_truncated"]
    assert logs.startswith("a\ufffdb\n")
    assert logs.count("\n") <= 1_000


def test_a_child_that_sends_huge_error_fields_is_bounded_by_the_worker() -> None:
    final = {
        "type": "error",
        "code": "runtime_error",
        "message": "m" * 10_000_000,
        "traceback": ["line 1, in " + "f" * 100_000] * 10_000,
        "problems": [{"line": 1, "column": 2, "code": "c" * 100_000, "message": "p" * 100_000}]
        * 10_000,
    }
    with pytest.raises(SandboxError) as caught:
        interpret(Outcome(final=final, returncode=0), LIMITS, "rlimits")
    assert len(json.dumps(caught.value.to_dict())) <= SMALL_ERROR_BYTES
    assert "truncated" in caught.value.message


def test_a_child_that_sends_huge_logs_is_bounded_by_the_worker() -> None:
    final = {"type": "result", "result": engine_result(), "logs": "\x00" * (10 * 1024 * 1024)}
    result = interpret(Outcome(final=final, returncode=0), LIMITS, "rlimits")
    assert len(result["sandbox"]["logs"].encode()) <= LIMITS.log_bytes
    assert "\x00" not in result["sandbox"]["logs"]
    assert result["sandbox"]["logs_truncated"]
