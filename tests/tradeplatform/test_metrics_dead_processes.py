"""/metrics forgets processes that are gone (Prometheus multiprocess mode), real processes only.

Issue 10, section 2: series of dead Celery processes stayed in /metrics forever. A process's
live gauges (one series per pid) must go when it exits, however it exits, and a service's
start must leave no file of a previous run behind.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.mmap_dict import MmapedDict

from tests.integration.conftest import start_worker, worker_launcher  # noqa: F401 - fixtures
from tests.tradeplatform.gunicorn_server import gunicorn_start, gunicorn_stop

pytestmark = pytest.mark.django_db
LIVE_GAUGE = "tradeplatform_process_max_resident_memory_bytes"
WAIT_SECONDS = 60.0  # a bound on waiting for an event, not a timing assertion


def live_series_pids(client, monkeypatch, metrics_dir: Path) -> set[int]:
    """The pids /metrics shows a live gauge for, aggregated from `metrics_dir`."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    exposition = client.get("/metrics").content.decode()
    return {int(pid) for pid in re.findall(rf'^{LIVE_GAUGE}\{{pid="(\d+)"\}}', exposition, re.M)}


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.2)


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def seed_metrics_files(directory: Path, pid: int) -> list[Path]:
    """Files as a process `pid` of an earlier run would have left them."""
    paths = [directory / f"counter_{pid}.db", directory / f"gauge_liveall_{pid}.db"]
    for path in paths:
        MmapedDict(str(path)).close()
    return paths


def test_a_stopped_celery_worker_leaves_no_live_series_in_metrics(
    start_worker,  # noqa: F811 - the fixture imported above
    client,
    monkeypatch,
):
    worker = start_worker(queues=f"metrics-{uuid.uuid4().hex[:8]}")
    main_pid, pool_pids = worker.process.pid, worker.pool_children()
    wait_for(
        lambda: main_pid in live_series_pids(client, monkeypatch, worker.metrics_dir),
        "the worker's main process in /metrics",
    )

    os.killpg(worker.process.pid, signal.SIGTERM)  # a warm shutdown, as `make run`'s Ctrl-C
    worker.process.wait(timeout=30)

    shown = live_series_pids(client, monkeypatch, worker.metrics_dir)
    assert main_pid not in shown
    assert not shown & set(pool_pids)


def test_a_stopped_worker_forgets_a_pool_process_that_ran_no_exit_hook(
    start_worker,  # noqa: F811 - the fixture imported above
    client,
    monkeypatch,
):
    worker = start_worker(queues=f"metrics-{uuid.uuid4().hex[:8]}")
    wait_for(
        lambda: worker.process.pid in live_series_pids(client, monkeypatch, worker.metrics_dir),
        "the worker's main process in /metrics",
    )
    # What a pool process stopped while starting (or killed) leaves: its live gauge, after the
    # new pool process's clean-up at its start already ran.
    gone = dead_pid()
    seed_metrics_files(worker.metrics_dir, gone)
    assert (worker.metrics_dir / f"gauge_liveall_{gone}.db").exists()

    os.killpg(worker.process.pid, signal.SIGTERM)
    worker.process.wait(timeout=30)

    assert not (worker.metrics_dir / f"gauge_liveall_{gone}.db").exists()
    assert (worker.metrics_dir / f"counter_{gone}.db").exists(), "counters stay: totals never drop"


def test_a_killed_pool_process_leaves_no_live_series_once_replaced(
    start_worker,  # noqa: F811 - the fixture imported above
    client,
    monkeypatch,
):
    worker = start_worker(queues=f"metrics-{uuid.uuid4().hex[:8]}")
    [killed] = worker.pool_children()
    wait_for(
        lambda: killed in live_series_pids(client, monkeypatch, worker.metrics_dir),
        "the pool process's gauges in /metrics",
    )

    os.kill(killed, signal.SIGKILL)  # as the OOM killer would: no exit hook runs
    wait_for(
        lambda: any(pid != killed for pid in worker.pool_children()),
        "a replacement pool process",
    )
    [replacement] = worker.pool_children()
    wait_for(
        lambda: replacement in live_series_pids(client, monkeypatch, worker.metrics_dir),
        "the replacement's gauges in /metrics",
    )
    assert killed not in live_series_pids(client, monkeypatch, worker.metrics_dir)


def test_a_celery_worker_start_removes_the_files_of_processes_that_no_longer_run(
    worker_launcher,  # noqa: F811 - the fixture imported above
    start_worker,  # noqa: F811
):
    metrics_dir = worker_launcher.tmp / "metrics"
    stale = seed_metrics_files(metrics_dir, dead_pid())
    kept = seed_metrics_files(metrics_dir, os.getpid())  # a running process sharing the dir

    start_worker(queues=f"metrics-{uuid.uuid4().hex[:8]}")

    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in kept)
    for path in kept:
        path.unlink()


def test_a_gunicorn_start_removes_the_files_of_processes_that_no_longer_run(tmp_path):
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    stale = seed_metrics_files(metrics_dir, dead_pid())
    kept = seed_metrics_files(metrics_dir, os.getpid())  # e.g. the Celery worker of `make run`

    server = gunicorn_start(tmp_path, {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})
    gunicorn_stop(server)

    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in kept)
