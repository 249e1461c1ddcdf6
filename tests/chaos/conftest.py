"""A private PostgreSQL that a test may stop and start, and a real gunicorn serving on it.

The shared PostgreSQL (the one the rest of the suite uses) is never stopped: these fixtures
initdb their own cluster into a temporary directory, on a free port, and remove it at the
end. initdb and pg_ctl come from PATH or /usr/lib/postgresql/*/bin; when they cannot be
found the tests FAIL rather than skip, so CI cannot silently lose the outage tests. As root
(containers, CI), the cluster is run by the `postgres` system user, as PostgreSQL refuses root.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVER_START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_binary(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if not found:
        pytest.fail(
            f"{name} not found (PATH or /usr/lib/postgresql/*/bin): the database outage tests "
            "need the PostgreSQL server binaries (apt-get install postgresql)."
        )
    return found


class PrivatePostgres:
    """One throwaway PostgreSQL cluster: its own data directory, port and socket directory."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.data_dir = base / "data"
        self.log_path = base / "postgres.log"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(base, user="postgres")

    def _run(self, *command: str) -> None:
        subprocess.run([*self.as_user, *command], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        initdb = postgres_binary("initdb")
        self._run(initdb, "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        # Durability is not what these tests are about; fsync off keeps a loaded box fast.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.base}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        pg_ctl = postgres_binary("pg_ctl")
        self._run(pg_ctl, "-D", str(self.data_dir), "-l", str(self.log_path), "-o", options,
                  "-w", "-t", "60", "start")  # fmt: skip

    def stop(self) -> None:
        """What `systemctl stop postgresql` does: sessions are terminated, the port closes."""
        pg_ctl = postgres_binary("pg_ctl")
        self._run(pg_ctl, "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60", "stop")

    def is_running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    # Not pytest's tmp_path: that lives under a root-only directory `postgres` cannot enter.
    base = Path(tempfile.mkdtemp(prefix="tp-private-pg-"))
    cluster = PrivatePostgres(base)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.is_running():
            cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


@dataclass
class Server:
    """gunicorn on the private database; `get` returns any status instead of raising."""

    base_url: str
    process: subprocess.Popen
    log_path: Path
    credentials: dict[str, str] = field(default_factory=dict)

    def get(self, path: str, *, headers: dict[str, str] | None = None) -> HttpAnswer:
        request = urllib.request.Request(self.base_url + path, headers=headers or {})
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=180) as response:  # loopback only
                status, answer_headers, body = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, answer_headers, body = error.code, error.headers, error.read()
        return HttpAnswer(status, dict(answer_headers), body, time.monotonic() - started)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


# Run inside the server's environment: a trader, a browser session and an API token for them.
_CREATE_CREDENTIALS = """
import json
from django.test import Client
from accounts.models import Role, User
from accounts.tokens import tokens_issue
user = User.objects.create_user(username="outage", email="outage@example.com",
                                password="outage-password-123", role=Role.TRADER)
client = Client()
client.force_login(user)
print(json.dumps({"session": client.cookies["sessionid"].value,
                  "token": tokens_issue(user, otp_verified=False)["access"]}))
"""


def server_env(database_url: str, var_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DJANGO_ENV="test",
        DATABASE_URL=database_url,
        VAR_DIR=str(var_dir),
        CACHE_KEY_PREFIX=f"chaos-{uuid.uuid4().hex[:8]}",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="4",
        # The tests poll during recovery; the limiter is not what they are about.
        RATELIMIT_API_RATE="100000/m",
        PYTHONUNBUFFERED="1",
    )
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return done.stdout


@pytest.fixture(scope="module")
def outage_server(private_postgres: PrivatePostgres, tmp_path_factory) -> Iterator[Server]:
    """gunicorn (2 processes, 4 threads each) on a migrated database of the private cluster."""
    if not private_postgres.is_running():
        private_postgres.start()
    database = f"tp_outage_{uuid.uuid4().hex[:8]}"
    private_postgres.create_database(database)
    tmp = tmp_path_factory.mktemp("outage-server")
    port = free_port()
    env = server_env(private_postgres.url(database), tmp / "var", port)
    _manage(env, "migrate", "--noinput")
    credentials = json.loads(_manage(env, "shell", "-c", _CREATE_CREDENTIALS).splitlines()[-1])
    log_path = tmp / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py",
             "tradeplatform.wsgi"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    server = Server(f"http://127.0.0.1:{port}", process, log_path, credentials)
    try:
        _wait_until_live(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if not private_postgres.is_running():
            private_postgres.start()


def _wait_until_live(server: Server) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited early:\n{server.log()[-4000:]}")
        try:
            if server.get("/live").status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn not live after {SERVER_START_TIMEOUT}s:\n{server.log()[-4000:]}")
