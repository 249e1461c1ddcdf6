"""`make bench`: every benchmark, one after the other, each printing ratios against its baseline.

    .venv/bin/python -m benchmarks [engine] [kernel] [marketdata] [jobs] [validation] [sandbox]
                                 [zygote] [research] [load]

Options after a name go to that benchmark: `python -m benchmarks jobs --runs 20 --burst 300`.

The engine, kernel, validation, sandbox and zygote benchmarks need nothing else; the
market-data, job and research benchmarks need PostgreSQL and Redis (DATABASE_URL / REDIS_URL /
CELERY_BROKER_URL, defaulting to the local servers on their own databases so they never touch
a dev database).
The load run prepares its own database and servers (LOAD_DATABASE_URL, docs/performance.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/tp_bench",
    "REDIS_URL": "redis://127.0.0.1:6379/14",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15",
}
BENCHMARKS = {
    "engine": ["-m", "benchmarks.engine.run"],
    "kernel": ["-m", "benchmarks.kernel.bench_core"],
    "marketdata": ["benchmarks/marketdata/bench_load.py"],
    "jobs": ["-m", "benchmarks.jobs.bench_latency"],
    "validation": ["-m", "benchmarks.validation.bench_worst_case"],
    "sandbox": ["-m", "benchmarks.sandbox.bench_batch"],
    "zygote": ["-m", "benchmarks.sandbox.bench_zygote"],
    "research": ["-m", "benchmarks.research.bench_sweep"],
    "load": ["-m", "benchmarks.load.run"],
}


def prepare_database(env: dict[str, str]) -> None:
    """Create the benchmark database if it is missing, and migrate it."""
    import psycopg
    from psycopg import sql

    base, _, name = env["DATABASE_URL"].rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    migrate = [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"]
    subprocess.run(migrate, cwd=ROOT, env={**env, "DJANGO_ENV": "dev"}, check=True)


def plan(argv: list[str]) -> list[tuple[str, list[str]]]:
    """Benchmarks to run, each with the options written after its name
    (`jobs --runs 20 engine --rounds 2`); every benchmark when none is named."""
    runs: list[tuple[str, list[str]]] = []
    for arg in argv:
        if arg in BENCHMARKS:
            runs.append((arg, []))
        elif runs:
            runs[-1][1].append(arg)
        else:
            raise SystemExit(
                f"unknown benchmark {arg!r}: name one of {', '.join(BENCHMARKS)} first, then "
                "its options"
            )
    return runs or [(name, []) for name in BENCHMARKS]


def main(argv: list[str]) -> int:
    failures = 0
    prepared = False
    for name, options in plan(argv):
        env = dict(os.environ)
        # These need no services, or (load) set up their own.
        if name not in ("engine", "kernel", "validation", "sandbox", "zygote", "load"):
            env = {**SERVICES, **env}
            if not prepared:
                prepare_database(env)
                prepared = True
        print(f"\n=== benchmark: {name} ===", flush=True)
        command = [sys.executable, *BENCHMARKS[name], *options]
        done = subprocess.run(command, cwd=ROOT, env=env, check=False)
        failures += done.returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
