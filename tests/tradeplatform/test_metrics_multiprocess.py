"""Under gunicorn with several workers, /metrics sums every worker's samples."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REQUESTS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # loopback only
        return response.read().decode()


def wait_until_up(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            fetch(url)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not come up")


@pytest.fixture
def gunicorn_with_two_workers(tmp_path):
    port = free_port()
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "VAR_DIR": str(tmp_path / "var"),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "1",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "deploy/gunicorn.conf.py",
            "tradeplatform.wsgi",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/live", time.monotonic() + 30)
        yield base, metrics_dir
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_request_counts_are_summed_across_gunicorn_workers(gunicorn_with_two_workers):
    base, metrics_dir = gunicorn_with_two_workers
    before = live_request_count(fetch(f"{base}/metrics"))
    for _ in range(REQUESTS):
        fetch(f"{base}/live")
    after = live_request_count(fetch(f"{base}/metrics"))
    assert after - before == REQUESTS
    # Both workers wrote samples: one counter file per worker process.
    assert len(list(metrics_dir.glob("counter_*.db"))) >= 2


def live_request_count(exposition: str) -> float:
    pattern = (
        r'django_http_requests_total_by_view_transport_method_total\{[^}]*view="live"[^}]*\} (\S+)'
    )
    match = re.search(pattern, exposition)
    return float(match.group(1)) if match else 0.0
