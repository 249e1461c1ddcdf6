"""Importing the settings creates no directory and configures no logging.

Each directory is made by what needs it (the SQLite backend, the file cache, the Celery app,
the log file handler) and logging is configured by django.setup() from settings.LOGGING. The
processes here start from an empty VAR_DIR, on the embedded default unless a test says so.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKER_READY_TIMEOUT = 60.0
_SERVICE_KEYS = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "LOG_TO_FILES", "LOG_DIR")


def embedded_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a process on the embedded default with its data in `var_dir`."""
    env = {k: v for k, v in os.environ.items() if k not in _SERVICE_KEYS}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return {**env, "DJANGO_ENV": "test", "DOTENV_FILE": "", "VAR_DIR": str(var_dir), **extra}


def run_python(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "tradeplatform.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def json_lines(text: str) -> list[dict[str, object]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_importing_the_settings_creates_neither_var_dir_nor_log_dir(tmp_path):
    var_dir, log_dir = tmp_path / "var", tmp_path / "log"
    env = embedded_env(var_dir, LOG_TO_FILES="1", LOG_DIR=str(log_dir))

    result = run_python("import tradeplatform.settings", env)

    assert result.returncode == 0, result.stderr
    assert not var_dir.exists()
    assert not log_dir.exists()
    assert list(tmp_path.iterdir()) == []


def test_logging_stays_unconfigured_until_django_setup_then_writes_json(tmp_path):
    script = (
        "import logging, sys\n"
        "import tradeplatform.settings\n"
        "print('root handlers:', len(logging.getLogger().handlers), file=sys.stderr)\n"
        "logging.getLogger('probe').warning('before setup')\n"
        "import django\n"
        "django.setup()\n"
        "logging.getLogger('probe').warning('after setup')\n"
    )

    result = run_python(script, embedded_env(tmp_path / "var"))

    assert result.returncode == 0, result.stderr
    assert "root handlers: 0" in result.stderr
    assert "before setup" in result.stderr  # Python's last-resort handler: plain text
    lines = [line for line in json_lines(result.stderr) if line["logger"] == "probe"]
    assert [line["message"] for line in lines] == ["after setup"]
    assert lines[0]["level"] == "WARNING"
    assert {"timestamp", "request_id", "user_id"} <= set(lines[0])


def test_django_records_reach_the_json_handlers_only(tmp_path):
    script = (
        "import django, logging\n"
        "django.setup()\n"
        "logging.getLogger('django.security.csrf').warning('csrf probe')\n"
        "logging.getLogger('django.server').warning('server probe')\n"
    )

    result = run_python(script, embedded_env(tmp_path / "var", DEBUG="1"))

    assert result.returncode == 0, result.stderr
    logged = [line["message"] for line in json_lines(result.stderr)]
    assert logged == ["csrf probe", "server probe"]
    assert result.stderr.count("probe") == 2  # no plain-text copy from Django's defaults


def test_file_logging_makes_its_directory_when_django_sets_up(tmp_path):
    log_dir = tmp_path / "absent" / "log"
    env = embedded_env(tmp_path / "var", LOG_TO_FILES="1", LOG_DIR=str(log_dir))
    script = "import django, logging\ndjango.setup()\nlogging.getLogger('probe').error('boom')\n"

    result = run_python(script, env)

    assert result.returncode == 0, result.stderr
    for name in ("app.log", "error.log"):
        lines = json_lines((log_dir / name).read_text())
        assert [(line["logger"], line["message"]) for line in lines] == [("probe", "boom")]


def test_check_and_migrate_work_from_an_empty_var_dir(tmp_path):
    var_dir = tmp_path / "var"
    # A Redis broker, so no broker folder makes VAR_DIR on the database's behalf.
    env = embedded_env(var_dir, CELERY_BROKER_URL="redis://127.0.0.1:1/0")

    check = run_manage("check", env=env)
    migrate = run_manage("migrate", "--noinput", env=env)

    assert check.returncode == 0, check.stderr
    assert migrate.returncode == 0, migrate.stderr
    assert (var_dir / "tradeplatform.sqlite3").is_file()


@pytest.mark.slow
def test_a_worker_starts_on_the_filesystem_broker_from_an_empty_var_dir(tmp_path):
    var_dir, log_path = tmp_path / "var", tmp_path / "worker.log"
    command = [
        sys.executable, "-m", "celery", "-A", "tradeplatform", "worker", "--pool", "solo",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "--queues", "celery",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=embedded_env(var_dir), stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        ready = wait_for_ready(worker, log_path)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)

    assert ready, log_path.read_text(errors="replace")[-4000:]
    assert (var_dir / "broker" / "queue").is_dir()
    # The worker logs through the JSON handlers that Django's LOGGING set up.
    assert any("ready" in str(line["message"]) for line in json_lines(log_path.read_text()))


def wait_for_ready(worker: subprocess.Popen[bytes], log_path: Path) -> bool:
    deadline = time.monotonic() + WORKER_READY_TIMEOUT
    while time.monotonic() < deadline and worker.poll() is None:
        if " ready." in log_path.read_text(errors="replace"):
            return True
        time.sleep(0.2)
    return False


@pytest.mark.django_db
def test_health_and_metrics_measure_the_disk_of_a_var_dir_nothing_has_made_yet(
    client, settings, tmp_path
):
    # With PostgreSQL and Redis (and no file logs) no process needs VAR_DIR at all.
    settings.VAR_DIR = tmp_path / "not" / "made"

    health = client.get("/health").json()["checks"]["disk"]
    metrics = client.get("/metrics")

    assert health["status"] == "up" and health["free_bytes"] > 0
    assert metrics.status_code == 200
    assert 'tradeplatform_disk_bytes{kind="free"}' in metrics.content.decode()
    assert not settings.VAR_DIR.exists()
