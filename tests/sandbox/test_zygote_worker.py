"""A real Celery worker starts a zygote with each pool process and leaves none behind."""

from __future__ import annotations

import os
import signal
import uuid

import pytest

from tests.integration.conftest import start_worker, worker_launcher  # noqa: F401 - fixtures
from tests.sandbox.test_zygote import cmdline, live, process_tree, wait_for

pytestmark = pytest.mark.django_db


def zygotes_under(pid: int) -> list[int]:
    return [p for p in process_tree(pid) if "zygote_jailed" in cmdline(p)]


def test_a_worker_starts_a_zygote_per_pool_process_and_stops_it_on_shutdown(
    start_worker,  # noqa: F811 - the fixture imported above
):
    worker = start_worker(queues=f"zygote-{uuid.uuid4().hex[:8]}")
    (pool,) = worker.pool_children()
    # Started with the pool process, before any job: the first user meets a warm zygote.
    wait_for(lambda: bool(zygotes_under(pool)), "a zygote under the pool process")
    jailed = process_tree(pool)[1:]

    os.killpg(worker.process.pid, signal.SIGTERM)  # a warm shutdown, as `make run`'s Ctrl-C
    worker.process.wait(timeout=30)

    wait_for(lambda: not live(jailed), f"the zygote's processes {live(jailed)} to end")
    assert "sandbox zygote" not in worker.log(), worker.log()[-2000:]
