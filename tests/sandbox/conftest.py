"""Fixtures for sandbox tests: small limits, synthetic bars and a planted secret."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backtesting.engine import BacktestSpec, BarSeries
from backtesting.sandbox import SandboxError, SandboxLimits, run_strategy_in_sandbox, zygote
from tests.strategies import samples

SECRET = "tp-planted-secret-5f1c9a"
SECRET_VARS = ("DATABASE_URL", "SECRET_KEY", "DJANGO_SECRET_KEY", "REDIS_URL", "AWS_SECRET_KEY")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
MARKER = "tp_pwned"
DAY_NS = 86_400_000_000_000

HEADER = "from strategy import Strategy, Param\nimport indicators as ta\nimport numpy as np\n"
SMA_CROSS = samples.SMA_CROSS  # the same sample strategy the other suites use


def make_bars(n: int = 400, symbol: str = "AAA") -> dict[str, BarSeries]:
    """A noisy sine wave, so moving averages cross many times."""
    rng = np.random.default_rng(7)
    close = 100 + 10 * np.sin(np.arange(n) / 12) + rng.normal(0, 0.5, n).cumsum() * 0.1
    open_ = np.concatenate([[close[0]], close[:-1]])
    high = np.maximum(open_, close) + 0.5
    low = np.minimum(open_, close) - 0.5
    ts = (np.arange(n, dtype=np.int64) + 19_000) * DAY_NS
    return {symbol: BarSeries(symbol, ts, open_, high, low, close, np.full(n, 1e6))}


@pytest.fixture(autouse=True)
def planted_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    """Secrets in the worker's environment, as in production; none may reach the child."""
    for name in SECRET_VARS:
        monkeypatch.setenv(name, f"{name}-{SECRET}")
    return SECRET


@pytest.fixture(params=["zygote", "fresh"])
def child_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test runs twice: jobs forked by this process's zygote, then a fresh process per job."""
    monkeypatch.setenv(zygote.ENABLED_VARIABLE, "1" if request.param == "zygote" else "0")
    return str(request.param)


def as_zygote_program(program: str) -> str:
    """A zygote bootstrap whose forked children run `program`, a fresh child's bootstrap."""
    return (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from backtesting.sandbox import zygote_jailed\n"
        f"zygote_jailed.main(lambda: exec({program!r}, {{'__name__': '__main__'}}))\n"
    )


def zygote_job_output(program: str, request: str) -> Any:
    """Start a zygote whose children run `program`, give one job `request`, parse its stdout."""
    started = zygote.Zygote(program)
    try:
        job = started.job_start()
        job.stdin.write(request.encode())
        job.stdin.close()
        output = job.stdout.read()
        exit_report = job.wait(None)
        assert exit_report is not None and exit_report.returncode == 0, job.stderr.read()
        job.stdout.close()
        job.stderr.close()
    finally:
        started.stop()
    return json.loads(output)


@pytest.fixture
def child_program(monkeypatch: pytest.MonkeyPatch, child_kind: str) -> Callable[..., None]:
    """use(program[, zygote_program]): jobs run `program` in place of the real child.

    In a fresh process, `program` is the bootstrap; from the zygote, each forked child runs it
    (or the zygote itself is started with `zygote_program`).
    """

    def use(program: str, zygote_program: str | None = None) -> None:
        if child_kind == "zygote":
            program = zygote_program or as_zygote_program(program)
            monkeypatch.setattr(zygote, "ZYGOTE_BOOTSTRAP", program)
        else:
            monkeypatch.setattr(zygote, "BOOTSTRAP", program)

    return use


@pytest.fixture
def small_limits() -> SandboxLimits:
    # The wall clock leaves room for 2 s of CPU on a busy shared machine (at a load of 10 on 2
    # cores a process gets about a fifth of one): a CPU-limit test must not end on the clock.
    return SandboxLimits(cpu_seconds=2, wall_seconds=30.0, memory_bytes=512 * 1024 * 1024)


@pytest.fixture
def bars() -> dict[str, BarSeries]:
    return make_bars()


@pytest.fixture
def spec() -> dict[str, Any]:
    return BacktestSpec().to_dict()


@pytest.fixture
def run(
    spec: dict[str, Any], bars: dict[str, BarSeries], small_limits: SandboxLimits
) -> Callable[..., dict[str, Any]]:
    def _run(code: str, limits: SandboxLimits | None = None, **kwargs: Any) -> dict[str, Any]:
        return run_strategy_in_sandbox(code, spec, bars, limits or small_limits, **kwargs)

    return _run


def leaked_text(value: object) -> str:
    """Everything a caller could show or store, flattened for secret searches."""
    if isinstance(value, SandboxError):
        return json.dumps(value.to_dict()) + str(value)
    # A result's curve is arrays (RunCurve): searched in the JSON form the API would show.
    return json.dumps(value, default=lambda v: v.to_json() if hasattr(v, "to_json") else str(v))


def marker_files() -> set[str]:
    """Files an attack could have left behind, in the places a user might try."""
    found: set[str] = set()
    for folder in (PROJECT_ROOT, Path("/tmp"), Path.cwd()):
        found |= {str(p) for p in folder.glob(f"*{MARKER}*")}
    return found


@pytest.fixture
def no_new_files() -> Iterator[None]:
    before = marker_files()
    yield
    assert marker_files() == before


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback TCP listener: an attack that reaches it shows up as a pending connection."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()
