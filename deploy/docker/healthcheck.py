"""The image's HEALTHCHECK: is this container's role answering? Standard library only.

    python /app/deploy/docker/healthcheck.py

The entrypoint records the role it started in $HEALTHCHECK_ROLE_FILE. web: GET /live (touches
no dependency, so an outage of PostgreSQL or Redis never gets a healthy web container
restarted). worker: its metrics exporter answers (it runs beside Celery, see
deploy/docker/worker_metrics.py). Any other role (beat, migrate, a one-off command): healthy
while it runs. /live is asked with a Host the app accepts (the first of ALLOWED_HOSTS),
because Django answers 400 to any other.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path

ROLE_FILE = Path(os.environ.get("HEALTHCHECK_ROLE_FILE", "/tmp/tradeplatform-role"))  # noqa: S108
TIMEOUT_SECONDS = 4.0


def probe_host() -> str:
    for host in os.environ.get("ALLOWED_HOSTS", "").split(","):
        host = host.strip()
        if host and host != "*":
            return host.lstrip(".") or "localhost"
    return "localhost"


def probe_url() -> str | None:
    role = ROLE_FILE.read_text().strip() if ROLE_FILE.is_file() else "web"
    if role == "web":
        port = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000").rpartition(":")[2]
        return f"http://127.0.0.1:{port}/live"
    if role == "worker":
        return f"http://127.0.0.1:{os.environ.get('WORKER_METRICS_PORT', '9808')}/metrics"
    return None


def main() -> int:
    url = probe_url()
    if url is None:
        return 0
    request = urllib.request.Request(url, headers={"Host": probe_host()})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return 0 if response.status == 200 else 1
    except OSError as exc:
        sys.stderr.write(f"healthcheck: {url}: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
