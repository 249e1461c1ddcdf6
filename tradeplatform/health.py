"""Liveness, readiness and dependency health, cheap enough to poll every second.

/live   the process answers; touches nothing, not even the session of a probe with a cookie
        (DatabaseOutageMiddleware), so it never waits on a dependency.
/ready  database and cache reachable and migrations applied (Kubernetes readiness). Each
        check is bounded: the database by DB_POOL_TIMEOUT (a known outage fails at once),
        the cache by REDIS_CONNECT_TIMEOUT/REDIS_SOCKET_TIMEOUT.
/health every dependency with status and latency; 503 when a critical one is down.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from tradeplatform import worker_heartbeat
from tradeplatform.disk import var_dir_disk_usage

_CACHE_PROBE_KEY = "health:probe"
_migrations_applied = False  # once true it stays true: migrations are never un-applied live


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    critical: bool
    latency_ms: float
    detail: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "up" if self.ok else "down",
            "critical": self.critical,
            "latency_ms": self.latency_ms,
            **self.detail,
        }


def _timed(name: str, critical: bool, probe: Callable[[], dict[str, Any]]) -> CheckResult:
    started = time.perf_counter()
    try:
        detail = probe()
        ok = bool(detail.pop("ok", True))
    except Exception as exc:
        detail, ok = {"error": type(exc).__name__}, False
    latency_ms = round((time.perf_counter() - started) * 1000, 2)
    return CheckResult(name, ok, critical, latency_ms, detail)


def probe_database() -> dict[str, Any]:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connections[DEFAULT_DB_ALIAS].vendor}


def probe_cache() -> dict[str, Any]:
    # A key of this probe's own: probes answered at once (several threads, workers or pods)
    # must not overwrite each other's token and report a healthy cache as down.
    token = uuid.uuid4().hex
    key = f"{_CACHE_PROBE_KEY}:{token}"
    cache.set(key, token, timeout=30)
    try:
        if cache.get(key) != token:
            return {"ok": False, "error": "cache did not return what was written"}
    finally:
        cache.delete(key)
    return {}


def probe_migrations() -> dict[str, Any]:
    global _migrations_applied
    if not _migrations_applied:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        _migrations_applied = not pending
        if pending:
            return {"ok": False, "pending": len(pending)}
    return {}


def probe_broker() -> dict[str, Any]:
    from tradeplatform.celery import app

    url: str = app.conf.broker_url
    if url.startswith("filesystem"):
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
        return {"transport": "filesystem", "ok": shutil.disk_usage(str(folder)).free > 0}
    with app.connection_for_write() as connection:
        connection.ensure_connection(
            max_retries=1, timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT
        )
        return {"transport": connection.transport_cls}


def probe_workers() -> dict[str, Any]:
    seen = worker_heartbeat.workers_seen()
    return {"ok": bool(seen), "workers": len(seen)}


def probe_disk() -> dict[str, Any]:
    usage = var_dir_disk_usage()
    return {
        "ok": usage.free >= settings.HEALTH_DISK_MIN_FREE_BYTES,
        "free_bytes": usage.free,
        "used_ratio": round(usage.used / usage.total, 4),
    }


def dependency_checks() -> list[CheckResult]:
    checks = [
        _timed("database", True, probe_database),
        _timed("cache", True, probe_cache),
        _timed("broker", True, probe_broker),
        _timed("workers", settings.HEALTH_WORKERS_CRITICAL, probe_workers),
        _timed("disk", True, probe_disk),
    ]
    return checks + [_timed(name, critical, probe) for name, critical, probe in extra_checks()]


def extra_checks() -> list[tuple[str, bool, Callable[[], dict[str, Any]]]]:
    """Checks contributed by the apps (circuit breakers, sandbox isolation level)."""
    from tradeplatform.apps import registered_health_checks

    return registered_health_checks()


def _migrations_check(database: CheckResult) -> CheckResult:
    if not database.ok:  # asking a database that just failed would only double the wait
        return CheckResult("migrations", False, True, 0.0, {"error": "database unavailable"})
    return _timed("migrations", True, probe_migrations)


@never_cache
@require_GET
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    database = _timed("database", True, probe_database)
    checks = [database, _timed("cache", True, probe_cache), _migrations_check(database)]
    ok = all(check.ok for check in checks)
    body = {
        "status": "ready" if ok else "not ready",
        "checks": {c.name: c.as_json() for c in checks},
    }
    return JsonResponse(body, status=200 if ok else 503)


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    checks = dependency_checks()
    ok = all(check.ok for check in checks if check.critical)
    body = {"status": "ok" if ok else "degraded", "checks": {c.name: c.as_json() for c in checks}}
    return JsonResponse(body, status=200 if ok else 503)
