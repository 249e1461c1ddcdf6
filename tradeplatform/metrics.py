"""/metrics: Prometheus exposition, restricted to an allow-list of networks or a bearer token.

Under gunicorn with several workers, PROMETHEUS_MULTIPROC_DIR makes every process write
its samples to a shared directory and this view aggregates them.
"""

from __future__ import annotations

import hmac
import ipaddress
import resource
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django_prometheus.exports import ExportToDjangoView
from prometheus_client import Gauge

from tradeplatform.disk import var_dir_disk_usage
from tradeplatform.exception_handler import error_json_response

# Per-process resource gauges; "liveall" keeps one series per live process in multiprocess mode,
# where prometheus_client's own process collector cannot aggregate.
PROCESS_RESIDENT_MEMORY = Gauge(
    "tradeplatform_process_max_resident_memory_bytes",
    "Peak resident memory of a web or worker process.",
    multiprocess_mode="liveall",
)
PROCESS_CPU_SECONDS = Gauge(
    "tradeplatform_process_cpu_seconds",
    "CPU seconds used by a web or worker process.",
    multiprocess_mode="liveall",
)
_last_resource_sample = 0.0
_RESOURCE_SAMPLE_SECONDS = 5.0


def sample_process_resources(force: bool = False) -> None:
    """Refresh this process's gauges, at most every few seconds (called per request)."""
    global _last_resource_sample
    now = time.monotonic()
    if not force and now - _last_resource_sample < _RESOURCE_SAMPLE_SECONDS:
        return
    _last_resource_sample = now
    usage = resource.getrusage(resource.RUSAGE_SELF)
    PROCESS_RESIDENT_MEMORY.set(usage.ru_maxrss * 1024)  # Linux reports kilobytes
    PROCESS_CPU_SECONDS.set(usage.ru_utime + usage.ru_stime)


DISK_BYTES = Gauge(
    "tradeplatform_disk_bytes",
    "Disk space of the data directory, read at scrape time.",
    ["kind"],
    multiprocess_mode="max",
)


def sample_disk_usage() -> None:
    usage = var_dir_disk_usage()
    DISK_BYTES.labels("free").set(usage.free)
    DISK_BYTES.labels("used").set(usage.used)
    DISK_BYTES.labels("total").set(usage.total)


def is_scraper_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_BEARER_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header.removeprefix("Bearer ").strip(), token)
    try:
        client = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        client in ipaddress.ip_network(network, strict=False)
        for network in settings.METRICS_ALLOWED_NETWORKS
    )


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not is_scraper_allowed(request):
        return error_json_response(403, "permission_denied", "Metrics are restricted.")
    sample_process_resources(force=True)
    sample_disk_usage()
    return ExportToDjangoView(request)
