"""The runtime attack corpus: hostile strategies through the whole pipeline (validator,
restricted compile, facades, jail). Each must fail cleanly, with a stable error code, leak
no secret and leave nothing behind."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

import pytest

from backtesting.sandbox import SandboxError, SandboxLimits
from tests.sandbox.conftest import HEADER, MARKER, SECRET, SMA_CROSS, leaked_text

# Every test runs against children forked by the zygote and against fresh processes.
pytestmark = pytest.mark.usefixtures("child_kind")
MIB = 1024 * 1024
CLEAN_FAIL = {"forbidden_construct", "runtime_error"}
RESOURCE_FAIL = {"cpu_time_limit", "wall_clock_limit", "memory_limit"}


def strategy(next_body: str, init_body: str = "pass") -> str:
    """A minimal valid strategy whose init/next run the given (indented) lines."""
    return (
        HEADER
        + "import math\n\nclass Attack(Strategy):\n    def init(self):\n        "
        + init_body.replace("\n", "\n        ")
        + "\n\n    def next(self):\n        "
        + next_body.replace("\n", "\n        ")
        + "\n"
    )


# fmt: off
ATTACKS: dict[str, tuple[str, set[str]]] = {
    "env_via_os_import": (strategy("import os\nprint(os.environ)"), CLEAN_FAIL),
    "env_via_numpy_facade": (strategy("print(np.os.environ)"), CLEAN_FAIL),
    "settings_import": (strategy("import tradeplatform.settings"), CLEAN_FAIL),
    "open_file": (strategy("print(open('/etc/passwd').read())"), CLEAN_FAIL),
    "write_file": (strategy(f"open('{MARKER}', 'w').write('x')"), CLEAN_FAIL),
    "write_tmp_via_numpy": (strategy(f"np.save('/tmp/{MARKER}', np.zeros(3))"), CLEAN_FAIL),
    "numpy_tofile": (strategy(f"np.zeros(3).tofile('/tmp/{MARKER}')"), CLEAN_FAIL),
    "numpy_load": (strategy("print(np.load('/etc/passwd'))"), CLEAN_FAIL),
    "numpy_fromfile": (strategy("print(np.fromfile('/etc/passwd'))"), CLEAN_FAIL),
    "numpy_ctypes": (strategy("print(self.data.close.ctypes.data)"), CLEAN_FAIL),
    "numpy_ctypeslib": (strategy("print(np.ctypeslib)"), CLEAN_FAIL),
    "numpy_testing_and_lib": (strategy("print(np.testing, np.lib)"), CLEAN_FAIL),
    "socket_import": (
        strategy("import socket\nsocket.create_connection(('127.0.0.1', 1))"),
        CLEAN_FAIL,
    ),
    "fork_bomb": (strategy("import os\nwhile True:\n    os.fork()"), CLEAN_FAIL),
    "thread_bomb": (
        strategy("import threading\nthreading.Thread(target=print).start()"),
        CLEAN_FAIL,
    ),
    "class_walk": (strategy("print(().__class__.__bases__[0].__subclasses__())"), CLEAN_FAIL),
    "getattr_walk": (strategy("print(getattr(self, '__class__'))"), CLEAN_FAIL),
    "format_walk": (strategy("print('{0.__class__}'.format(self))"), CLEAN_FAIL),
    "frame_walk": (strategy("g = (i for i in [1])\nprint(g.gi_frame.f_globals)"), CLEAN_FAIL),
    "traceback_walk": (
        strategy("try:\n    1 / 0\nexcept Exception as e:\n    print(e.__traceback__.tb_frame)"),
        CLEAN_FAIL,
    ),
    "exec_eval": (strategy("exec('import os')"), CLEAN_FAIL),
    "builtins_import": (strategy("__import__('os').system('id')"), CLEAN_FAIL),
    "write_read_only_bars": (strategy("self.data.close[-1] = 0.0"), CLEAN_FAIL),
    "system_exit": (strategy("raise SystemExit(0)"), {"runtime_error", "forbidden_construct"}),
    "deep_recursion": (
        strategy("pass", init_body="def f(n):\n    return f(n + 1) + 1\nf(0)"),
        {"runtime_error"},
    ),
    "infinite_loop": (strategy("while True:\n    pass"), {"cpu_time_limit"}),
    "huge_integer": (strategy("x = 10 ** 10 ** 8\nprint(x)"), RESOURCE_FAIL),
    "huge_list": (strategy("x = [0] * (10 ** 10)"), {"memory_limit"}),
    "huge_array": (strategy("x = np.ones(10 ** 10)"), {"memory_limit"}),
    "huge_string": (strategy("x = 'x' * (10 ** 10)"), {"memory_limit"}),
    "growing_memory": (
        strategy("x = []\nwhile True:\n    x.append([0] * 100000)"),
        {"memory_limit", "cpu_time_limit"},
    ),
}
# fmt: on


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_fails_cleanly_without_side_effects(
    name: str,
    run: Callable[..., dict[str, Any]],
    listener: socket.socket,
    no_new_files: None,
) -> None:
    code, expected = ATTACKS[name]
    code = code.replace("('127.0.0.1', 1)", f"('127.0.0.1', {listener.getsockname()[1]})")
    with pytest.raises(SandboxError) as caught:
        run(code)
    assert caught.value.code in expected, caught.value.to_dict()
    assert SECRET not in leaked_text(caught.value)
    assert caught.value.message
    with pytest.raises(BlockingIOError):
        listener.accept()


def test_print_flood_is_truncated_not_fatal(run: Callable[..., dict[str, Any]]) -> None:
    result = run(strategy("for i in range(2000):\n    print('spam' * 20)"))
    log = result["sandbox"]["logs"]
    assert result["sandbox"]["logs_truncated"]
    assert 0 < len(log.encode()) <= 64 * 1024


def test_a_result_larger_than_allowed_kills_the_child(
    run: Callable[..., dict[str, Any]], small_limits: SandboxLimits
) -> None:
    limits = SandboxLimits(**{**small_limits.to_dict(), "output_bytes": 4096})
    with pytest.raises(SandboxError) as caught:
        run(SMA_CROSS, limits=limits)
    assert caught.value.code == "output_too_large"


def test_a_run_cannot_poison_the_next_one(run: Callable[..., dict[str, Any]]) -> None:
    baseline = run(SMA_CROSS)
    poison = strategy(
        "pass",
        init_body="ta.sma = ta.ema\nnp.mean = np.max\nmath.pi = 3\nStrategy.buy = None",
    )
    with pytest.raises(SandboxError) as caught:
        run(poison)
    assert caught.value.code in CLEAN_FAIL
    again = run(SMA_CROSS)
    assert _comparable(again) == _comparable(baseline)


def test_wall_clock_limit_kills_a_slow_run(run: Callable[..., dict[str, Any]]) -> None:
    limits = SandboxLimits(cpu_seconds=30, wall_seconds=1.5, memory_bytes=512 * MIB)
    with pytest.raises(SandboxError) as caught:
        run(strategy("while True:\n    pass"), limits=limits)
    assert caught.value.code == "wall_clock_limit"


def _comparable(result: dict[str, Any]) -> str:
    shown = {**result, "equity_curve": result["equity_curve"].to_json()}
    return json.dumps({k: v for k, v in shown.items() if k != "sandbox"}, sort_keys=True)
