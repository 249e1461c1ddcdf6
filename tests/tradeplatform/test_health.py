"""Health endpoints with dependencies up and down; none needs auth or leaks versions."""

from unittest import mock

import pytest
from django.db import OperationalError

from tradeplatform import health, worker_heartbeat

pytestmark = pytest.mark.django_db


def test_live_answers_without_touching_dependencies(client, django_assert_num_queries):
    with django_assert_num_queries(0), mock.patch.object(health, "probe_cache") as probe_cache:
        response = client.get("/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    probe_cache.assert_not_called()


def test_ready_is_200_when_database_cache_and_migrations_are_fine(client):
    response = client.get("/ready")
    assert response.status_code == 200
    assert set(response.json()["checks"]) == {"database", "cache", "migrations"}


def test_ready_is_503_when_the_database_is_down(client):
    with mock.patch.object(health, "probe_database", side_effect=OperationalError("down")):
        response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {
        "status": "down",
        "critical": True,
        "latency_ms": mock.ANY,
        "error": "OperationalError",
    }


def test_ready_is_503_when_the_cache_is_down(client):
    with mock.patch("tradeplatform.health.cache.set", side_effect=ConnectionError("refused")):
        response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["cache"]["status"] == "down"


def test_probes_answered_at_once_do_not_fail_each_other(client):
    """Another probe writing between this one's write and read must not make it fail."""
    real_set = health.cache.set

    def set_then_a_concurrent_probe_writes(key, value, timeout=None):
        real_set(key, value, timeout=timeout)
        real_set(health._CACHE_PROBE_KEY, "another probe's token", timeout=30)

    with mock.patch.object(health.cache, "set", side_effect=set_then_a_concurrent_probe_writes):
        response = client.get("/ready")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["cache"]["status"] == "up"


def test_ready_is_503_while_migrations_are_pending(client, monkeypatch):
    monkeypatch.setattr(health, "_migrations_applied", False)
    with mock.patch.object(health.MigrationExecutor, "migration_plan", return_value=[("m", False)]):
        response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"]["pending"] == 1


def test_health_reports_every_dependency_with_status_and_latency(client):
    worker_heartbeat.record_heartbeat("celery@test-host")
    response = client.get("/health")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert {"database", "cache", "broker", "workers", "disk"} <= set(checks)
    for check in checks.values():
        assert check["status"] in ("up", "down")
        assert isinstance(check["latency_ms"], float)
    assert checks["workers"] == {
        "status": "up",
        "critical": False,
        "latency_ms": mock.ANY,
        "workers": 1,
    }


def test_health_stays_200_with_no_worker_seen_but_says_so(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["checks"]["workers"]["status"] == "down"


@pytest.mark.parametrize(
    "failing_probe", ["probe_database", "probe_cache", "probe_broker", "probe_disk"]
)
def test_health_is_503_when_a_critical_dependency_is_down(client, failing_probe):
    with mock.patch.object(health, failing_probe, side_effect=ConnectionError("down")):
        response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"


def test_health_leaks_no_versions_or_secrets(client, settings):
    body = client.get("/health").content.decode()
    assert settings.SECRET_KEY not in body
    assert "version" not in body.lower()
    if settings.DATABASES["default"].get("PASSWORD"):
        assert settings.DATABASES["default"]["PASSWORD"] not in body


def test_health_endpoints_need_no_authentication(client):
    for url in ("/live", "/ready", "/health"):
        assert client.get(url).status_code == 200
