"""Each pytest-xdist process of `make test` gets Redis databases of its own.

Every test flushes the cache and each process runs Celery workers of its own: two processes on
one Redis database would flush each other's state and take each other's jobs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tradeplatform.xdist_isolation import IsolationError, redis_urls_for_process

ROOT = Path(__file__).resolve().parents[2]

# What a process sees: the settings, Celery's broker (which reads the environment first) and
# the environment a process it starts inherits.
REPORT = """
import json, os, subprocess, sys
import django
django.setup()
from django.conf import settings
from tradeplatform.celery import app
child = subprocess.run(
    [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
     "print(settings.CACHES['default']['LOCATION'], settings.CELERY_BROKER_URL)"],
    capture_output=True, text=True, check=True,
).stdout.split()
print(json.dumps({
    "cache": settings.CACHES["default"]["LOCATION"],
    "broker": settings.CELERY_BROKER_URL,
    "celery": app.connection_for_write().as_uri(include_password=True),
    "child": child,
}))
"""


def report(**env: str) -> subprocess.CompletedProcess[str]:
    ours = ("PYTEST_XDIST", "TP_XDIST", "REDIS_URL", "CELERY_BROKER")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return subprocess.run(
        [sys.executable, "-c", REPORT], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**keep, "DJANGO_ENV": "test", "DOTENV_FILE": "",
             "DJANGO_SETTINGS_MODULE": "tradeplatform.settings", **env},
    )  # fmt: skip


def test_the_second_process_moves_cache_and_broker_up_by_two_and_its_children_follow() -> None:
    done = report(
        PYTEST_XDIST_WORKER="gw1", PYTEST_XDIST_WORKER_COUNT="2",
        REDIS_URL="redis://127.0.0.1:6379/1", CELERY_BROKER_URL="redis://127.0.0.1:6379/2",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout)
    assert seen["cache"] == "redis://127.0.0.1:6379/3"
    assert seen["broker"] == "redis://127.0.0.1:6379/4"
    assert seen["celery"] == "redis://127.0.0.1:6379/4"
    # A child inherits the moved URLs and does not move them a second time.
    assert seen["child"] == ["redis://127.0.0.1:6379/3", "redis://127.0.0.1:6379/4"]


def test_the_first_process_keeps_the_configured_databases() -> None:
    done = report(
        PYTEST_XDIST_WORKER="gw0", PYTEST_XDIST_WORKER_COUNT="2",
        REDIS_URL="redis://127.0.0.1:6379/1", CELERY_BROKER_URL="redis://127.0.0.1:6379/2",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout)
    assert (seen["cache"], seen["celery"]) == (
        "redis://127.0.0.1:6379/1",
        "redis://127.0.0.1:6379/2",
    )


def test_the_embedded_default_refuses_several_processes_with_a_message() -> None:
    done = report(PYTEST_XDIST_WORKER="gw1", PYTEST_XDIST_WORKER_COUNT="2")
    assert done.returncode != 0
    message = "the embedded default (file cache and broker) runs the tests in one process"
    assert message in done.stderr


@pytest.mark.parametrize(
    ("cache", "broker", "count", "message"),
    [
        # Process 1 would get 3 and 5; 3 is process 0's broker.
        ("redis://h/1", "redis://h/3", 2, "Redis database 3 would be shared"),
        ("redis://h/14", "redis://h/15", 2, "need Redis database 16"),
        ("amqp://guest@h//", "redis://h/2", 2, "amqp:// Redis URL cannot be split"),
        ("redis://h/cache", "redis://h/2", 2, "database 'cache' is not a number"),
    ],
)
def test_urls_that_would_be_shared_or_cannot_move_are_refused(cache, broker, count, message):
    with pytest.raises(IsolationError, match=message):
        redis_urls_for_process(cache, broker, worker="gw1", worker_count=count)


def test_passwords_ports_and_tls_survive_and_a_missing_database_counts_as_zero() -> None:
    assert redis_urls_for_process(
        "rediss://:s3cret@cache.internal:6380", "redis://u:p@broker:6379/0",
        worker="gw2", worker_count=3,
    ) == ("rediss://:s3cret@cache.internal:6380/4", "redis://u:p@broker:6379/4")  # fmt: skip
