"""Worker services: what apps register, every worker runs beside its tasks, whatever fails."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from tradeplatform import worker_services
from tradeplatform.worker_services import WorkerService


@pytest.fixture
def registry(monkeypatch) -> dict[str, WorkerService]:
    services: dict[str, WorkerService] = {}
    monkeypatch.setattr(worker_services, "_services", services)
    return services


def test_a_worker_starts_every_registered_service_with_its_hostname(registry) -> None:
    seen: list[str] = []
    ran = threading.Event()

    def run(hostname: str) -> None:
        seen.append(hostname)
        ran.set()

    worker_services.register_worker_service(
        WorkerService(name="probe", run=run, interval=lambda: 3600, uses_database=False)
    )
    threads = worker_services.worker_services_start("celery@host-a")

    assert ran.wait(10), "the registered service never ran"
    assert seen == ["celery@host-a"]
    assert [t.name for t in threads] == ["worker-probe"] and threads[0].daemon


def test_services_that_use_the_database_never_hold_connections_at_once(registry) -> None:
    # The budget gives a worker's main process one connection for its services; each run
    # holds one (a plain connection, closed at the end of the run).
    holding, most, runs = [0], [0], {"a": 0, "b": 0}
    lock, done = threading.Lock(), threading.Event()

    def service(name: str) -> WorkerService:
        def run(hostname: str) -> None:
            with lock:
                holding[0] += 1
                most[0] = max(most[0], holding[0])
            time.sleep(0.05)  # a query's worth
            with lock:
                holding[0] -= 1
                runs[name] += 1
                if min(runs.values()) >= 3:
                    done.set()

        return WorkerService(name=name, run=run, interval=lambda: 3600 if done.is_set() else 0.001)

    worker_services.register_worker_service(service("a"))
    worker_services.register_worker_service(service("b"))
    worker_services.worker_services_start("celery@host-a")

    assert done.wait(10), f"the services did not run three times each: {runs}"
    assert most == [1]


def test_a_failing_service_is_logged_and_does_not_stop_the_worker(registry, caplog) -> None:
    def run(hostname: str) -> None:
        raise ConnectionError("the cache is down")

    service = WorkerService(name="flaky", run=run, interval=lambda: 1, uses_database=False)
    with caplog.at_level(logging.WARNING, logger="tradeplatform.worker_services"):
        worker_services.worker_service_run_once(service, "celery@host-a")  # does not raise

    assert [r.service for r in caplog.records] == ["flaky"]  # type: ignore[attr-defined]


def test_a_service_registered_twice_runs_once(registry) -> None:
    service = WorkerService(name="once", run=print, interval=lambda: 1, uses_database=False)
    worker_services.register_worker_service(service)
    worker_services.register_worker_service(service)
    assert worker_services.registered_worker_services() == [service]
