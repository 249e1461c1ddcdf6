"""/health shows the strategy sandbox's isolation level; rlimits alone fails it in prod."""

from unittest import mock

import pytest

pytestmark = pytest.mark.django_db


def test_health_names_the_sandbox_isolation_level(client):
    check = client.get("/health").json()["checks"]["sandbox"]
    assert check["isolation"] in ("bubblewrap+seccomp", "bubblewrap", "rlimits")
    assert check["critical"] is True


def test_rlimits_only_isolation_is_down_in_prod_but_fine_in_dev(client, settings):
    with mock.patch("backtesting.sandbox.isolation_level", return_value="rlimits"):
        settings.IS_STRICT = True
        strict = client.get("/health")
        settings.IS_STRICT = False
        relaxed = client.get("/health")
    assert strict.status_code == 503
    assert strict.json()["checks"]["sandbox"]["status"] == "down"
    assert relaxed.json()["checks"]["sandbox"]["status"] == "up"


def test_the_workers_reported_isolation_is_what_health_judges(client, settings):
    """In Kubernetes the web pod cannot jail (no namespace rights); strategies run on workers,
    whose pods can. /health follows the levels live workers report, not the web host's."""
    from backtesting.sandbox_health import sandbox_isolation_report
    from tradeplatform.worker_heartbeat import record_heartbeat

    settings.IS_STRICT = True
    record_heartbeat("worker-a@pod-1")
    with mock.patch("backtesting.sandbox.isolation_level", return_value="bubblewrap+seccomp"):
        sandbox_isolation_report("worker-a@pod-1")  # as the worker's service does
    with mock.patch("backtesting.sandbox.isolation_level", return_value="rlimits"):  # web host
        jailed = client.get("/health").json()["checks"]["sandbox"]
        sandbox_isolation_report("worker-b@pod-2")  # a worker that cannot jail
        record_heartbeat("worker-b@pod-2")
        weak = client.get("/health")
    assert jailed["status"] == "up" and jailed["source"] == "workers"
    assert jailed["workers"] == {"worker-a@pod-1": "bubblewrap+seccomp"}
    assert weak.status_code == 503
    check = weak.json()["checks"]["sandbox"]
    assert check["status"] == "down" and check["isolation"] == "rlimits"
    assert check["workers"]["worker-b@pod-2"] == "rlimits"


def test_a_stopped_workers_report_stops_counting(client, settings):
    from django.core.cache import cache

    from backtesting.sandbox_health import sandbox_isolation_report

    settings.IS_STRICT = True
    with mock.patch("backtesting.sandbox.isolation_level", return_value="bubblewrap+seccomp"):
        sandbox_isolation_report("gone@pod")  # reported, but no heartbeat: not a live worker
    cache.delete("workers:registry")
    with mock.patch("backtesting.sandbox.isolation_level", return_value="rlimits"):
        check = client.get("/health").json()["checks"]["sandbox"]
    assert check["source"] == "this process" and check["status"] == "down"
