"""Where strategies run, how well they are jailed: the /health check of the sandbox.

Strategies run on the workers, not in the web process, and in Kubernetes the two differ: the
worker pod has the seccomp profile that lets bubblewrap make namespaces, the web pod does not
(docs/deployment.md). So each worker reports the isolation level it finds to the shared cache
(a worker service, every few seconds, with a short expiry), and /health judges the levels the
live workers report. Only when no worker has reported (none running yet, or the cache is down)
does it fall back to the level this process would get, as before.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache

from tradeplatform.soft_cache import soft_set

logger = logging.getLogger(__name__)

# Levels live a few report intervals, so a stopped worker's report soon stops counting.
REPORT_INTERVAL_SECONDS = 10.0
_REPORT_TTL_SECONDS = 3 * REPORT_INTERVAL_SECONDS
_KEY_PREFIX = "sandbox:isolation:"
WEAK_LEVEL = "rlimits"


def sandbox_isolation_report(hostname: str) -> None:
    """Worker service: publish the isolation this worker's sandbox gets."""
    from backtesting.sandbox import isolation_level

    soft_set(f"{_KEY_PREFIX}{hostname}", isolation_level(), timeout=_REPORT_TTL_SECONDS)


def sandbox_isolation_reported(hostnames: list[str]) -> dict[str, str]:
    """{worker hostname: isolation level} of the given workers that reported recently."""
    found = cache.get_many([f"{_KEY_PREFIX}{name}" for name in hostnames])
    return {key.removeprefix(_KEY_PREFIX): level for key, level in found.items()}


def sandbox_health() -> dict[str, Any]:
    """Up unless, in staging/prod, strategies would run under rlimits alone (not jailed)."""
    from tradeplatform import worker_heartbeat

    try:
        reported = sandbox_isolation_reported(worker_heartbeat.workers_seen())
    except Exception:  # the cache being down: judge this host, as without workers
        logger.warning("sandbox levels of the workers unreadable", exc_info=True)
        reported = {}
    if reported:
        weak = sorted(name for name, level in reported.items() if level == WEAK_LEVEL)
        return {
            "isolation": "rlimits" if weak else min(reported.values()),
            "source": "workers",
            "workers": reported,
            "ok": not (weak and settings.IS_STRICT),
        }
    from backtesting.sandbox import isolation_level

    level = isolation_level()
    ok = level != WEAK_LEVEL or not settings.IS_STRICT
    return {"isolation": level, "source": "this process", "ok": ok}
