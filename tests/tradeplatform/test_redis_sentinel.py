"""Redis behind a real Sentinel (started on loopback), and the app with its cache gone.

A private redis-server is the master, a second redis-server in sentinel mode monitors it;
a Django process configured only with sentinel:// URLs must reach the master through the
sentinel for the cache and for Celery's broker. Then, with the cache unreachable, a signed-in
session still works (sessions are in the database) and /health shows the cache down.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.test import Client

from tests.factories import TraderFactory
from tests.tradeplatform.gunicorn_server import free_port
from tradeplatform import redis_sentinel

ROOT = Path(__file__).resolve().parents[2]
MASTER_NAME = "tp-master"


def _wait_for_ping(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError, redis.RedisError):
            if redis.Redis(port=port, socket_timeout=0.5).ping():
                return
        time.sleep(0.05)
    raise RuntimeError(f"redis-server on {port} did not start:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """(master port, sentinel port): both stopped after the test."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: run `make system-packages`")
    master_port, sentinel_port = free_port(), free_port()
    master_log, sentinel_log = tmp_path / "master.log", tmp_path / "sentinel.log"
    master = subprocess.Popen(
        ["redis-server", "--port", str(master_port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--logfile", str(master_log)],
    )  # fmt: skip
    processes = [master]
    try:
        _wait_for_ping(master_port, master, master_log)
        config = tmp_path / "sentinel.conf"  # Sentinel rewrites its own config file
        config.write_text(
            f"port {sentinel_port}\nbind 127.0.0.1\ndir {tmp_path}\nlogfile {sentinel_log}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 1\n"
        )
        processes.append(subprocess.Popen(["redis-server", str(config), "--sentinel"]))
        _wait_for_ping(sentinel_port, processes[-1], sentinel_log)
        yield master_port, sentinel_port
    finally:
        for process in reversed(processes):
            _stop(process)


def test_a_sentinel_url_is_parsed_into_sentinels_master_db_and_password() -> None:
    target = redis_sentinel.parse_sentinel_url("sentinel://:p%40ss@10.0.0.1:26379,s2:26380/main/3")
    assert target.sentinels == (("10.0.0.1", 26379), ("s2", 26380))
    assert (target.master, target.db, target.password) == ("main", 3, "p@ss")
    assert redis_sentinel.broker_url(target) == (
        "sentinel://:p%40ss@10.0.0.1:26379/3;sentinel://:p%40ss@s2:26380/3"
    )
    assert redis_sentinel.cache_location(target) == ["redis://main/3"]
    assert redis_sentinel.parse_sentinel_url("sentinel://h:1/m").db == 0
    for bad in ("sentinel://h:1", "sentinel://h/m", "sentinel://h:1/m/x", "sentinel://h:1/m/1/2"):
        with pytest.raises(ValueError):
            redis_sentinel.parse_sentinel_url(bad)


def test_the_broker_takes_kombus_form_with_a_master_or_follows_the_redis_url_form() -> None:
    kombu_form = "sentinel://s1:26379/1;sentinel://s2:26379/1"
    assert redis_sentinel.broker_sentinel(kombu_form, master="m", url_from_environment=True) == (
        kombu_form,
        "m",
    )
    with pytest.raises(ValueError, match="CELERY_BROKER_SENTINEL_MASTER"):
        redis_sentinel.broker_sentinel(kombu_form, master="", url_from_environment=True)
    followed = redis_sentinel.broker_sentinel(
        "sentinel://s1:26379,s2:26379/m/2", master="", url_from_environment=False
    )
    assert followed == ("sentinel://s1:26379/2;sentinel://s2:26379/2", "m")
    with pytest.raises(ValueError, match="reads it as is"):
        redis_sentinel.broker_sentinel(
            "sentinel://s1:26379/m/2", master="m", url_from_environment=True
        )


# Runs in a child whose only Redis configuration is the two sentinel:// URLs.
THROUGH_SENTINEL = r"""
import json
import django
django.setup()
from django.conf import settings
from django.core.cache import cache
from tradeplatform import health
from tradeplatform.celery import app

cache.set("sentinel-probe", {"through": "sentinel"}, timeout=60)
out = {"cached": cache.get("sentinel-probe"),
       "health_cache": health._timed("cache", True, health.probe_cache).ok,
       "transport_options": settings.CELERY_BROKER_TRANSPORT_OPTIONS}
with app.connection_for_write() as connection:
    connection.ensure_connection(max_retries=1)
    out["transport"] = connection.transport_cls
    queue = connection.SimpleQueue("tp-sentinel-probe")
    queue.put({"job": 42})
    queue.close()
out["health_broker"] = health._timed("broker", True, health.probe_broker).as_json()
print("RESULT " + json.dumps(out))
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "broker_db", [1, 0], ids=["broker-url-of-its-own", "broker-follows-redis-url"]
)
def test_the_cache_and_the_broker_reach_the_master_through_the_sentinel(
    sentinel, broker_db: int
) -> None:
    master_port, sentinel_port = sentinel
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.pop("CELERY_BROKER_URL", None)
    env.update(
        DJANGO_ENV="test",
        DJANGO_SETTINGS_MODULE="tradeplatform.settings",
        DOTENV_FILE="",
        REDIS_URL=f"sentinel://127.0.0.1:{sentinel_port}/{MASTER_NAME}/0",
    )
    if broker_db:  # kombu's own form, which Celery reads from the environment as is
        env["CELERY_BROKER_URL"] = f"sentinel://127.0.0.1:{sentinel_port}/{broker_db}"
        env["CELERY_BROKER_SENTINEL_MASTER"] = MASTER_NAME
    result = subprocess.run(
        [sys.executable, "-c", THROUGH_SENTINEL], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    out: dict[str, Any] = json.loads(result.stdout.split("RESULT ", 1)[1])
    assert out["cached"] == {"through": "sentinel"}
    assert out["health_cache"] is True
    assert out["transport_options"]["master_name"] == MASTER_NAME
    assert out["transport"] == "sentinel"
    assert out["health_broker"]["status"] == "up"
    # What the child wrote is on the master the sentinel named.
    assert redis.Redis(port=master_port, db=0).keys("*sentinel-probe*") != []
    assert redis.Redis(port=master_port, db=broker_db).llen("tp-sentinel-probe") == 1


def test_a_broker_url_in_the_redis_url_form_is_refused_with_the_form_to_use() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DJANGO_ENV="test", DOTENV_FILE="", DJANGO_SETTINGS_MODULE="tradeplatform.settings",
        CELERY_BROKER_URL=f"sentinel://127.0.0.1:1/{MASTER_NAME}/1",
    )  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "CELERY_BROKER_SENTINEL_MASTER" in result.stderr


@pytest.fixture
def cache_unreachable(settings) -> None:
    """The shared cache pointed at a port nobody listens on (Redis down)."""
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
            },
        }
    }


@pytest.mark.django_db
def test_a_signed_in_session_survives_the_cache_going_away(cache_unreachable) -> None:
    user: Any = TraderFactory(username="still-signed-in")
    client = Client()
    client.force_login(user)
    with pytest.raises(redis.ConnectionError):  # the cache is really gone
        from django.core.cache import cache

        cache.get("anything")
    response = client.get("/")
    assert response.status_code == 200
    assert response.wsgi_request.user.pk == user.pk
    assert b"still-signed-in" in response.content


@pytest.mark.django_db
def test_health_shows_the_cache_down_while_it_is_unreachable(cache_unreachable) -> None:
    response = Client().get("/health")
    body = response.json()
    assert body["checks"]["cache"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "up"
    assert body["status"] == "degraded"
