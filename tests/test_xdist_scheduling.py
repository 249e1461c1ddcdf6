"""`make test`'s two processes: a module runs whole in one process (its module fixtures set up
once), the chaos and browser suites each whole in one process, every test exactly once.

Tried on an inner two-process pytest run that uses the project's own scheduler hook.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROJECT_CONFTEST = str(ROOT / "tests/conftest.py")
INNER_CONFTEST = f"""
import importlib.util

_spec = importlib.util.spec_from_file_location("project_conftest", {PROJECT_CONFTEST!r})
_project = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_project)
pytest_xdist_make_scheduler = _project.pytest_xdist_make_scheduler
"""

INNER_MODULE = """
import os
import pytest

def _record(line):
    with open(os.environ["SCHEDULE_LOG"], "a") as log:
        log.write(line + "\\n")

@pytest.fixture(scope="module")
def module_state(request):
    _record(f"setup {request.module.__file__}")

@pytest.mark.parametrize("n", range(COUNT))
def test_step(module_state, request, n):
    _record(f"run {os.environ['PYTEST_XDIST_WORKER']} {request.node.nodeid}")
"""

MODULES = [
    "tests/chaos/test_redis.py", "tests/chaos/test_postgres.py", "tests/browser/test_pages.py",
    "tests/engine/test_a.py", "tests/engine/test_b.py", "tests/accounts/test_c.py",
    "tests/accounts/test_d.py", "tests/integration/test_e.py",
]  # fmt: skip
# Modules of different sizes: were the processes told to run tests by their index in a list
# ordered differently from their own, whole modules would no longer line up with the indices.
SIZES = [3, 4, 5, 6, 7, 8, 9, 10]


def test_modules_and_whole_suites_stay_in_one_process_and_every_test_runs_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = pytester.path / "schedule.log"
    monkeypatch.setenv("SCHEDULE_LOG", str(log))
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    pytester.makeconftest(INNER_CONFTEST)
    for size, module in zip(SIZES, MODULES, strict=True):
        path = pytester.path / module
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"COUNT = {size}\n" + INNER_MODULE)
    done = pytester.runpytest_subprocess(
        "-n", "2", "-p", "xdist", "-p", "no:django", "-p", "no:cacheprovider",
        "--import-mode=importlib", "-q",
    )  # fmt: skip
    done.assert_outcomes(passed=sum(SIZES))

    lines = log.read_text().splitlines()
    setups = [line.split(" ", 1)[1] for line in lines if line.startswith("setup ")]
    assert sorted(setups) == sorted(str(pytester.path / m) for m in MODULES)  # once each
    runs = [line.split(" ", 2)[1:] for line in lines if line.startswith("run ")]
    assert len(runs) == len({nodeid for _, nodeid in runs}) == sum(SIZES)
    workers_of: dict[str, set[str]] = defaultdict(set)
    for worker, nodeid in runs:
        module = nodeid.split("::", 1)[0]
        workers_of[module].add(worker)
        suite = module.split("/")[1]
        if suite in ("chaos", "browser"):
            workers_of[suite].add(worker)
    assert all(len(workers) == 1 for workers in workers_of.values()), dict(workers_of)
    assert {worker for worker, _ in runs} == {"gw0", "gw1"}  # both processes had work
