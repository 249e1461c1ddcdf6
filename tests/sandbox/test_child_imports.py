"""What the child imports, and that it runs wherever the checkout and the virtualenv live.

A root worker drops the child to uid 65534 before user code runs. At the rlimits level there
is no mount namespace, so everything the child still loads after that drop must be reachable
by uid 65534 on the host — which a checkout under `mktemp -d` or pytest's tmp dir (both 0700)
is not. The child therefore loads every trusted module before the drop. And whatever NumPy
imports from C on first use goes through the strategy's restricted __import__ unless it was
used once before.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backtesting.sandbox.isolation import JAIL_PATHS
from tests.sandbox.conftest import HEADER, PROJECT_ROOT, SMA_CROSS

# Runs in a checkout with a given interpreter and prints what a caller of the sandbox would
# see; with the argument "rlimits" it forces that level, like a host without bubblewrap.
DRIVER = r"""
import json, sys
import numpy as np
from backtesting.engine import BacktestSpec, BarSeries
from backtesting.sandbox import SandboxError, SandboxLimits, isolation, launcher
if sys.argv[1:] == ["rlimits"]:
    isolation.find_bwrap = lambda: None
    launcher.isolation_level = lambda: "rlimits"
n = 300
close = 100 + 10 * np.sin(np.arange(n) / 12) + np.arange(n) * 0.01
ts = (np.arange(n, dtype=np.int64) + 19_000) * 86_400_000_000_000
bars = {"AAA": BarSeries("AAA", ts, close, close + 0.5, close - 0.5, close, np.full(n, 1e6))}
limits = SandboxLimits(cpu_seconds=20, wall_seconds=60.0, memory_bytes=512 * 1024 * 1024)
try:
    spec = BacktestSpec().to_dict()
    result = launcher.run_strategy_in_sandbox(sys.stdin.read(), spec, bars, limits)
    print(json.dumps({"level": result["sandbox"]["isolation_level"], "error": None}))
except SandboxError as exc:
    print(json.dumps({"level": None, "error": exc.to_dict()}))
"""
# np.unique, np.median and np.percentile reach NumPy submodules that load on first use.
USES_LAZY_NUMPY = HEADER + (
    "class Lazy(Strategy):\n"
    "    def init(self):\n"
    "        close = self.data.close\n"
    "        self.levels = np.unique(np.round(close))\n"
    "        self.mid = np.median(close) + np.percentile(close, 90) * 0\n"
    "    def next(self):\n"
    "        if self.data.close[-1] > self.mid and not self.position():\n"
    "            self.buy()\n"
)


def run_driver(python: Path, checkout: Path, code: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(python), "-c", DRIVER, *args],
        input=code, capture_output=True, text=True, cwd=checkout, timeout=180, check=False,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _private_checkout(root: Path) -> Path:
    """The Django-free part of the checkout, copied under a directory only root may enter."""
    private = root / "private"
    private.mkdir(mode=0o700)  # what `mktemp -d` creates
    checkout = private / "tradeplatform"
    for relative in JAIL_PATHS:
        source, target = PROJECT_ROOT / relative, checkout / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    return checkout


def _private_venv(checkout: Path) -> Path:
    """A venv inside the checkout whose packages resolve through the private directory."""
    venv = checkout / ".venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    packages = next((venv / "lib").glob("python*/site-packages"))
    # Links, not copies: the import system keeps the linked path, so NumPy's submodules are
    # looked up under the private directory, as in a venv created there by `make install`.
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not (packages / entry.name).exists():
            (packages / entry.name).symlink_to(entry)
    return venv / "bin" / "python"


@pytest.mark.skipif(os.geteuid() != 0, reason="only a root worker drops the child's uid")
@pytest.mark.parametrize("code", [SMA_CROSS, USES_LAZY_NUMPY], ids=["sma_cross", "lazy_numpy"])
def test_the_rlimits_level_runs_from_a_checkout_only_root_can_enter(
    tmp_path: Path, code: str
) -> None:
    checkout = _private_checkout(tmp_path)
    python = _private_venv(checkout)
    assert run_driver(python, checkout, code, "rlimits") == {"level": "rlimits", "error": None}


@pytest.mark.requires_component("bubblewrap")
def test_a_virtualenv_reached_through_a_symlink_runs_in_the_jail(tmp_path: Path) -> None:
    # The jail binds resolved paths; the interpreter is started by the path it was run as.
    link = tmp_path / "venv"
    link.symlink_to(Path(sys.prefix).resolve(), target_is_directory=True)
    report = run_driver(link / "bin" / "python", PROJECT_ROOT, SMA_CROSS)
    assert report["error"] is None
    assert report["level"].startswith("bubblewrap")


def test_a_run_loads_no_module_after_the_lockdown() -> None:
    """Everything the child needs is imported before it drops privileges, at every level."""
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from backtesting.sandbox import runner  # what child.py imports before the lockdown\n"
        "from tests.sandbox.conftest import make_bars\n"
        "from backtesting.engine import BacktestSpec\n"
        "from backtesting.sandbox.limits import SandboxLimits\n"
        "cols = {s: {n: getattr(b, n) for n in ('timestamps', 'open', 'high', 'low', 'close',"
        " 'volume')} for s, b in make_bars().items()}\n"
        "header = {'code': sys.stdin.read(), 'spec': BacktestSpec().to_dict(),"
        " 'limits': SandboxLimits().to_dict()}\n"
        "before = set(sys.modules)\n"
        "message = runner.run_job(header, cols, lambda fraction: None)\n"
        "assert message['type'] == 'result', message\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", probe, str(PROJECT_ROOT)],
        input=USES_LAZY_NUMPY, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_array_methods_work_in_a_strategy_from_the_first_call(
    run: Callable[..., dict[str, Any]],
) -> None:
    # NumPy implements these in Python (numpy._core._methods) and imports that module from C
    # on the first call, through the caller's __import__: in a strategy, the restricted one.
    code = HEADER + (
        "class Methods(Strategy):\n"
        "    def init(self):\n"
        "        close = self.data.close\n"
        "        self.stats = [close.mean(), close.std(), close.var(), close.sum(),\n"
        "                      close.prod(), close.max(), close.min(), close.any(), close.all(),\n"
        "                      close.clip(0, 1).sum()]\n"
        "    def next(self):\n"
        "        pass\n"
    )
    assert run(code)["sandbox"]["logs"] == ""
