"""Mutation testing of the core with mutmut: how many deliberate bugs the tests catch.

    .venv/bin/python -m benchmarks.mutation [sizing] [orders] [policy] [metrics] [broker] [launcher]
    make mutation MODULES="sizing orders"

Each module is mutated on its own, in its own scratch copy of the repository under
``var/mutation/<module>/`` (git-ignored), and only the tests that exercise it run against each
mutant (``MODULES`` below: the whole suite per mutant would take hours on two cores). The copy
and mutmut's ``mutants/`` directory are kept between runs: that is the cached baseline. A rerun
keeps the kills of unchanged code and tests again the mutants no test killed yet (tests may have
been added since) and those of changed code. ``--fresh`` throws the cache away.

Each run prints a table (mutants, killed, survived, timeouts, kill rate) and writes it with the
surviving mutants' names to ``var/mutation/summary.json``; ``docs/testing.md`` ("Mutation
testing") records the figures and lists the equivalent mutants. Run it under ``nice -n 19``
on a shared machine. PostgreSQL and Redis are needed only by the policy's and launcher's tests
(DATABASE_URL / REDIS_URL / CELERY_BROKER_URL, defaulting to local databases of their own).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "var" / "mutation"
# What each module is, and the tests that exercise it (the ones mutmut runs per mutant).
MODULES: dict[str, tuple[str, list[str]]] = {
    "sizing": (
        "backtesting/engine/sizing.py",
        ["tests/engine/test_sizing.py", "tests/engine/test_sizing_cases.py"],
    ),
    "orders": (
        "backtesting/engine/orders.py",
        [
            "tests/engine/test_golden_cases.py",
            "tests/engine/test_entry_bar_exits.py",
            "tests/engine/test_strategy_api.py",
            "tests/engine/test_order_cases.py",
        ],
    ),
    "policy": (
        "strategies/validation/policy.py",
        ["tests/strategies/test_validation.py", "tests/strategies/test_policy_cases.py"],
    ),
    "metrics": (
        "backtesting/engine/metrics.py",
        [
            "tests/engine/test_metrics.py",
            "tests/engine/test_metric_cases.py",
            "tests/engine/test_metric_cases_report.py",
            "tests/engine/test_metric_overflow.py",
        ],
    ),
    "broker": (
        "backtesting/engine/broker.py",
        [
            "tests/engine/test_golden_cases.py",
            "tests/engine/test_entry_bar_exits.py",
            "tests/engine/test_strategy_api.py",
            "tests/engine/test_user_errors.py",
            "tests/engine/test_order_cases.py",
            "tests/engine/test_broker_cases.py",
            "tests/engine/test_broker_accounting_cases.py",
        ],
    ),
    "launcher": (
        "backtesting/sandbox/launcher.py",
        ["tests/sandbox/test_launcher_cases.py", "tests/sandbox/test_run.py"],
    ),
}
# The packages a test run imports (copied into the scratch tree, only the one module mutated).
PACKAGES = ["accounts", "backtesting", "strategies", "tradeplatform"]
SERVICES = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/tp_mutation",
    "REDIS_URL": "redis://127.0.0.1:6379/11",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/12",
}
MUTMUT = str(Path(sys.executable).with_name("mutmut"))
KERNEL = "backtesting/engine/libkernel.so"


def _mutmut_config(module: str, tests: list[str]) -> str:
    quoted = ", ".join(json.dumps(t) for t in tests)
    return (
        "\n[tool.mutmut]\n"
        f"source_paths = {json.dumps(PACKAGES)}\n"
        f"only_mutate = [{json.dumps(module)}]\n"
        'also_copy = ["templates", "manage.py"]\n'
        f"pytest_add_cli_args_test_selection = [{quoted}]\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"]\n'
        # mutmut's wall limit is 15 x (the tests' time + 1 s) by default: under `nice -n 19` on
        # a busy machine mutants that the tests would kill or pass ran out of it, and a timeout
        # counts as a kill without any test failing (docs/testing.md).
        "timeout_multiplier = 60\n"
    )


def sync_tree(work: Path, module: str, tests: list[str]) -> None:
    """Copy the tracked files into ``work`` (unchanged files keep their times, so mutmut's cache
    holds), and append the module's mutmut section to the copy's pyproject.toml."""
    work.mkdir(parents=True, exist_ok=True)
    tracked = subprocess.run(
        [
            "git",
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
            *PACKAGES,
            "tests",
            "templates",
            "pyproject.toml",
            "manage.py",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    # The compiled kernel is git-ignored but is what the engine runs: without it, mutants of
    # the code that calls it would only ever meet the Python fallback.
    if (ROOT / KERNEL).exists():
        tracked += KERNEL.encode() + b"\0"
    subprocess.run(
        ["rsync", "-a", "--checksum", "--from0", "--files-from=-", f"{ROOT}/", f"{work}/"],
        input=tracked,
        check=True,
    )
    # mutmut's copy of the source tree is made once; refresh it when the checkout changed.
    mutants = work / "mutants"
    if mutants.exists():
        subprocess.run(
            [
                "rsync",
                "-a",
                "--checksum",
                "--from0",
                "--files-from=-",
                f"{ROOT}/",
                f"{mutants}/",
            ],
            input=b"\0".join(p for p in tracked.split(b"\0") if p and p.decode() != module),
            check=True,
        )
    pyproject = (ROOT / "pyproject.toml").read_text()
    (work / "pyproject.toml").write_text(pyproject + _mutmut_config(module, tests))


# mutmut's exit codes for a mutant no test failed on: survived (0), no tests (5, 33).
RETESTED_EXIT_CODES = (0, 5, 33)


def retest_survivors(work: Path) -> int:
    """Forget the cached verdicts of surviving mutants so this run tests them again.

    mutmut keeps every verdict while the mutated code is unchanged, also when tests were added
    since; kills stay valid (a test that failed on a mutant still does), survivors may not.
    Its map of which tests call which function is dropped as well: mutmut updates it only for
    new tests, so functions added to the module since would count as reached by none.
    """
    (work / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    forgotten = 0
    for meta_path in (work / "mutants").rglob("*.py.meta"):
        meta = json.loads(meta_path.read_text())
        codes = meta["exit_code_by_key"]
        for key, code in codes.items():
            if code in RETESTED_EXIT_CODES:
                codes[key] = None
                forgotten += 1
        meta_path.write_text(json.dumps(meta))
    return forgotten


def _results(work: Path, env: dict[str, str]) -> dict[str, list[str]]:
    out = subprocess.run(
        [MUTMUT, "results", "--all", "true"],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    by_status: dict[str, list[str]] = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep:
            by_status.setdefault(status.strip(), []).append(name)
    return by_status


def run_module(name: str, *, fresh: bool, children: int) -> dict[str, object]:
    module, tests = MODULES[name]
    work = CACHE / name
    if fresh and work.exists():
        shutil.rmtree(work)
    sync_tree(work, module, tests)
    env = {**os.environ, "DJANGO_ENV": "test", "DOTENV_FILE": ""}
    for key, value in SERVICES.items():
        env.setdefault(key, value)
    retest_survivors(work)
    started = time.monotonic()
    subprocess.run([MUTMUT, "run", "--max-children", str(children)], cwd=work, env=env, check=True)
    seconds = time.monotonic() - started
    by_status = _results(work, env)
    killed = len(by_status.get("killed", []))
    timeouts = len(by_status.get("timeout", []))
    survived = by_status.get("survived", [])
    total = sum(len(v) for v in by_status.values())
    return {
        "module": module,
        "mutants": total,
        "killed": killed,
        "timeout": timeouts,
        "survived": len(survived),
        "other": total - killed - timeouts - len(survived),
        "by_status": {status: len(names) for status, names in by_status.items()},
        "kill_rate": round(100.0 * (killed + timeouts) / total, 1) if total else 0.0,
        "seconds": round(seconds),
        "load": os.getloadavg()[0],
        "survivors": survived,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"any of {', '.join(MODULES)} (default: all)")
    parser.add_argument("--fresh", action="store_true", help="discard the cached baseline")
    parser.add_argument("--children", type=int, default=2, help="parallel test processes")
    args = parser.parse_args()
    unknown = set(args.modules) - set(MODULES)
    if unknown:
        parser.error(f"unknown module(s): {', '.join(sorted(unknown))}")
    CACHE.mkdir(parents=True, exist_ok=True)
    summary_path = CACHE / "summary.json"
    for name in args.modules or list(MODULES):
        row = run_module(name, fresh=args.fresh, children=args.children)
        # Read just before writing: runs of other modules may have finished meanwhile.
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
        summary[name] = row
        summary_path.write_text(json.dumps(summary, indent=2))
    summary = json.loads(summary_path.read_text())
    print(
        f"\n{'module':<42} {'mutants':>7} {'killed':>6} {'timeout':>7} {'survived':>8} {'rate':>6}"
    )
    for row in summary.values():
        print(
            f"{row['module']:<34} {row['mutants']:>7} {row['killed']:>6} {row['timeout']:>7} "
            f"{row['survived']:>8} {row['other']:>8} {row['kill_rate']:>5}%  "
            f"({row['seconds']} s, load {row['load']:.1f})"
        )
    print(
        f"\nsurvivors: {summary_path.relative_to(ROOT)}; `mutmut show <name>` in {CACHE}/<module>/"
    )


if __name__ == "__main__":
    main()
