"""`make bench`: every benchmark, one after the other, each printing ratios against its baseline.

    .venv/bin/python -m benchmarks [engine] [marketdata] [jobs]

The engine benchmark needs nothing else; the market-data and job benchmarks need PostgreSQL
and Redis (DATABASE_URL / REDIS_URL / CELERY_BROKER_URL, defaulting to the local servers on
their own databases so they never touch a dev database).
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
    "marketdata": ["benchmarks/marketdata/bench_load.py"],
    "jobs": ["-m", "benchmarks.jobs.bench_latency"],
}


def main(selected: list[str]) -> int:
    failures = 0
    for name in selected or list(BENCHMARKS):
        env = dict(os.environ)
        if name != "engine":
            env = {**SERVICES, **env}
        print(f"\n=== benchmark: {name} ===", flush=True)
        done = subprocess.run([sys.executable, *BENCHMARKS[name]], cwd=ROOT, env=env, check=False)
        failures += done.returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
