"""The worker container's /metrics: its Celery processes' samples, and its sandbox isolation.

    python /app/deploy/docker/worker_metrics.py      # started by the entrypoint's worker role

A Celery worker has no HTTP server, and in a container its processes' Prometheus files
(PROMETHEUS_MULTIPROC_DIR) cannot be shared with the web container: the directory's
housekeeping decides by pid, which is only meaningful inside one pid namespace
(tradeplatform/metrics_files.py). So each worker container serves its own files on
WORKER_METRICS_PORT (9808), and Prometheus scrapes web and workers as two jobs. The port
answers without authentication: publish it to the monitoring network only.

Next to the samples the worker's processes write (backtests by final status, run times,
sandbox failures, dead letters, queue depth on claim), it exports the isolation the sandbox
really gets in this container, probed the same way the worker probes it before a run:

    tradeplatform_sandbox_isolation{level="bubblewrap+seccomp"} 1

`level="rlimits"` means bubblewrap cannot create its namespaces here (seccomp profile,
AppArmor, or the host's user-namespace switch): strategies would run without a jail, and
staging/prod must not accept that (alert SandboxIsolationDegraded).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

ISOLATION_METRIC = "tradeplatform_sandbox_isolation"


class SandboxIsolationCollector(Collector):
    """One sample naming the isolation level this container's sandbox gets (probed once)."""

    def collect(self) -> Iterator[Metric]:
        from backtesting.sandbox.isolation import isolation_level

        family = GaugeMetricFamily(
            ISOLATION_METRIC,
            "Isolation of the strategy sandbox in this worker (1 for the level in effect).",
            labels=["level"],
        )
        family.add_metric([isolation_level()], 1.0)
        yield family


def worker_registry(multiproc_dir: str | None = None) -> CollectorRegistry:
    """The registry the exporter serves: the shared samples plus the sandbox's isolation."""
    registry = CollectorRegistry()
    directory = multiproc_dir or os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        MultiProcessCollector(registry, path=directory)
    registry.register(SandboxIsolationCollector())
    return registry


def main() -> None:
    port = int(os.environ.get("WORKER_METRICS_PORT", "9808"))
    address = os.environ.get("WORKER_METRICS_ADDRESS", "0.0.0.0")  # noqa: S104 - see docstring
    start_http_server(port, addr=address, registry=worker_registry())
    threading.Event().wait()  # the server thread is a daemon; the container stops us


if __name__ == "__main__":
    main()
