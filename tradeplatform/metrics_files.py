"""Housekeeping of the shared Prometheus directory (PROMETHEUS_MULTIPROC_DIR).

In multiprocess mode every gunicorn and Celery process writes its samples to files named
after its pid, and /metrics sums them. A process that exits leaves its files behind: its
live gauges ("liveall" and friends, one series per pid) would be shown forever. So:

- `metrics_process_forget(pid)` when a process exits (gunicorn's `child_exit`, Celery's
  `worker_process_shutdown` and `worker_shutdown`): its live gauges go, its counters stay
  so that totals never go down while the service runs;
- `metrics_dead_processes_forget()` when a Celery pool process starts: a pool process killed
  by a signal (the OOM killer, a hard time limit) ran no exit hook, and its replacement
  cleans up after it; and when the worker's main process shuts down, for one that has no
  replacement (stopped while it was starting, or killed during the shutdown);
- `metrics_stale_files_remove()` when a service starts (gunicorn's master, the Celery
  worker's main process): every file of a process that no longer runs is left over from a
  previous run and goes. Files of running processes stay, because web and worker may share
  the directory (`make run` does) and one of them may start while the other runs.

The directory must therefore be private to one host (one pid namespace). This module imports
no Django and writes no sample, so gunicorn's master can use it before any app is loaded.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import multiprocess

_LIVE_GAUGE_PREFIX = "gauge_live"


def metrics_dir() -> Path | None:
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(path) if path else None


def metrics_process_forget(pid: int) -> None:
    """Drop the live gauges of process `pid`, which has exited (no-op without the directory)."""
    directory = metrics_dir()
    if directory is not None:
        multiprocess.mark_process_dead(pid, str(directory))


def metrics_dead_processes_forget() -> list[int]:
    """Drop the live gauges of every process that no longer runs; returns their pids."""
    directory = metrics_dir()
    if directory is None:
        return []
    pids = {_pid_of(f) for f in directory.glob(f"{_LIVE_GAUGE_PREFIX}*.db")}
    dead = sorted(pid for pid in pids if pid is not None and not is_process_running(pid))
    for pid in dead:
        multiprocess.mark_process_dead(pid, str(directory))
    return dead


def metrics_stale_files_remove() -> list[Path]:
    """At a service's start: remove every file of processes that no longer run."""
    directory = metrics_dir()
    if directory is None or not directory.is_dir():
        return []
    stale = []
    for path in directory.glob("*.db"):
        pid = _pid_of(path)
        if pid is not None and not is_process_running(pid):
            path.unlink(missing_ok=True)
            stale.append(path)
    return stale


def is_process_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    # A zombie has exited but is not reaped yet: it writes nothing any more.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _pid_of(path: Path) -> int | None:
    # prometheus_client names its files <type>[_<mode>]_<pid>.db.
    suffix = path.stem.rsplit("_", 1)[-1]
    return int(suffix) if suffix.isdigit() else None
