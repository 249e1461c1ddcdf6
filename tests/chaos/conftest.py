"""The whole platform on private services, so a test may break any piece of it.

One private PostgreSQL cluster and one private redis-server per session (tests/private_services.py;
the shared services are never stopped). A template database is migrated and seeded once (a
trader with a browser session and an API token, 500 daily bars of AAA, a slow strategy);
each test module gets a `stack`: a copy of the template, a cache and a broker database of
its own on the private Redis, and the real processes it starts on them (gunicorn, Celery
workers), all stopped after the module. Tests talk to the stack the way clients do (HTTP)
and read what was written straight from its database (`stack.query`).

The workers run with short job timings (a 3 s lease, a sweep every 0.5 s, a queued job
presumed lost after 5 s) so a recovery takes seconds; docs/operations.md gives the shipped ones.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_backtest_worker import wait_for
from tests.private_services import PrivatePostgres, PrivateRedis, free_port

__all__ = ["wait_for"]  # the chaos modules take it from here

ROOT = Path(__file__).resolve().parents[2]
SERVER_START_TIMEOUT = 60.0
WORKER_READY_TIMEOUT = 60.0
TEMPLATE_DATABASE = "tp_chaos_template"
FINISHED = ("succeeded", "failed", "cancelled")
# Shortened job timings (see the module docstring).
FAST_RECOVERY = {
    "BACKTEST_LEASE_SECONDS": "3",
    "BACKTEST_RECOVERY_INTERVAL_SECONDS": "0.5",
    "BACKTEST_REQUEUE_AFTER_SECONDS": "5",
    "BACKTEST_RETRY_BACKOFF_SECONDS": "0.2",
}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer to look at (a sign-in's 302), not one to follow."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


@dataclass
class Server:
    """gunicorn on the stack; requests return any status instead of raising."""

    base_url: str
    process: subprocess.Popen
    log_path: Path
    credentials: dict[str, Any] = field(default_factory=dict)

    def request(
        self, method: str, path: str, *, body: Any = None, form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> HttpAnswer:  # fmt: skip
        """`body` is sent as JSON, `form` as an urlencoded form."""
        data, all_headers = None, {}
        if body is not None:
            data, all_headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            all_headers = {"Content-Type": "application/x-www-form-urlencoded"}
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={**all_headers, **(headers or {})},
        )
        started = time.monotonic()
        try:
            with _OPENER.open(request, timeout=180) as response:  # loopback only
                status, answer_headers, content = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, answer_headers, content = error.code, error.headers, error.read()
        headers = dict(answer_headers)
        if answer_headers.get_all("Set-Cookie"):  # one line per cookie (dict keeps the last)
            headers["Set-Cookie"] = "\n".join(answer_headers.get_all("Set-Cookie"))
        return HttpAnswer(status, headers, content, time.monotonic() - started)

    def get(self, path: str, *, headers: dict[str, str] | None = None) -> HttpAnswer:
        return self.request("GET", path, headers=headers)

    def api(self, method: str, path: str, body: Any = None) -> HttpAnswer:
        """An API call as the seeded trader (Bearer token)."""
        token = {"Authorization": f"Bearer {self.credentials['token']}"}
        return self.request(method, path, body=body, headers=token)

    def submit_backtest(self, spin: int) -> int:
        """A backtest of the seeded slow strategy (`spin` sets its cost per bar); its id."""
        answer = self.api("POST", "/api/v1/backtests/", {
            "strategy": self.credentials["strategy"], "instruments": ["AAA"], "timeframe": "1d",
            "start": "2015-01-01T00:00:00Z", "end": "2016-12-31T00:00:00Z",
            "parameters": {"spin": spin},
        })  # fmt: skip
        assert answer.status == 202, answer.text
        return int(answer.json()["id"])

    def clone_strategy(self, name: str) -> HttpAnswer:
        """A write through the API: a copy of the seeded strategy named `name`."""
        path = f"/api/v1/strategies/{self.credentials['strategy']}/clone/"
        return self.api("POST", path, {"name": name})

    def page(self, path: str = "/strategies/") -> HttpAnswer:
        """A page as the seeded trader (their browser session)."""
        return self.get(path, headers={"Cookie": f"sessionid={self.credentials['session']}"})

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        """gunicorn's worker processes (a changed list means they were restarted)."""
        return _children(self.process.pid)


@dataclass
class Worker:
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def is_ready(self) -> bool:
        return " ready." in self.log()

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the worker's whole process group: no ack, no reject, nothing written."""
        _signal_group(self.process, signal.SIGKILL)
        self.process.wait(timeout=10)


# Run in the template database once: the schema, the trader, their credentials, bars and the
# strategy.
_SEED = """
import json
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=0)  # one Django start for both steps
from django.test import Client
from accounts.models import Role, User
from accounts.tokens import tokens_issue
from tests.backtesting.conftest import seed_bars
from tests.factories import StrategyFactory, StrategyVersionFactory
from tests.integration.conftest import SLOW_CODE, SLOW_PARAMS

user = User.objects.create_user(username="chaos", email="chaos@example.com",
                                password="chaos-password-123", role=Role.TRADER)
client = Client()
client.force_login(user)
seed_bars("AAA", 500)
strategy = StrategyFactory(owner=user, code="")
StrategyVersionFactory(strategy=strategy, code=SLOW_CODE, parameters=SLOW_PARAMS,
                       class_name="SlowCross")
print(json.dumps({"username": "chaos", "password": "chaos-password-123",
                  "session": client.cookies["sessionid"].value,
                  "token": tokens_issue(user, otp_verified=False)["access"],
                  "strategy": strategy.pk}))
"""


def _base_env(database_url: str, cache_url: str, broker_url: str, var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "COV_"))}
    env.pop("CELERY_BROKER_WRITE_URL", None)
    env.update(
        DJANGO_ENV="test",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        DATABASE_URL=database_url,
        REDIS_URL=cache_url,
        CELERY_BROKER_URL=broker_url,
        VAR_DIR=str(var_dir),
        JWT_ACCESS_MINUTES="120",  # the seeded token outlives the session
        # The tests poll during outages; the limiter is not what they are about unless they
        # say so (test_redis_outage.py sets a low rate of its own).
        RATELIMIT_API_RATE="100000/m",
        QUOTA_TRADER_CONCURRENT_BACKTESTS="-1",  # the broker test queues several at once
        **FAST_RECOVERY,
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return done.stdout


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


@pytest.fixture(scope="session")
def chaos_redis(tmp_path_factory) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path_factory.mktemp("chaos-redis") / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="session")
def seeded_template(
    private_postgres: PrivatePostgres, chaos_redis: PrivateRedis, tmp_path_factory
) -> dict[str, Any]:
    """Migrate and seed the template database once; returns the seeded credentials."""
    private_postgres.create_database(TEMPLATE_DATABASE)
    tmp = tmp_path_factory.mktemp("chaos-template")
    env = _base_env(private_postgres.url(TEMPLATE_DATABASE), chaos_redis.url(14),
                    chaos_redis.url(15), tmp / "var")  # fmt: skip
    return dict(json.loads(manage(env, "shell", "-c", _SEED).splitlines()[-1]))


_redis_db_pairs = itertools.cycle(range(0, 14, 2))


class Stack:
    """A copy of the template database, two Redis databases, and the processes started on them."""

    def __init__(
        self, postgres: PrivatePostgres, redis: PrivateRedis, credentials: dict[str, Any],
        tmp: Path,
    ) -> None:  # fmt: skip
        self.postgres, self.redis, self.credentials, self.tmp = postgres, redis, credentials, tmp
        self.database = f"tp_chaos_{uuid.uuid4().hex[:8]}"
        postgres.create_database(self.database, template=TEMPLATE_DATABASE)
        cache_db = next(_redis_db_pairs)
        self.env = _base_env(postgres.url(self.database), redis.url(cache_db),
                             redis.url(cache_db + 1), tmp / "var")  # fmt: skip
        self.processes: list[subprocess.Popen] = []

    def _spawn(self, command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.processes.append(process)
        return process

    def start_server(self, *, workers: int = 2, env: dict[str, str] | None = None) -> Server:
        """gunicorn with the shipped config (`workers` processes of 4 threads)."""
        port = free_port()
        server_env = {
            **self.env,
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": str(workers),
            "GUNICORN_THREADS": "4",
            **(env or {}),
        }
        log_path = self.tmp / f"gunicorn-{port}.log"
        command = [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py",
                   "tradeplatform.wsgi"]  # fmt: skip
        server = Server(f"http://127.0.0.1:{port}", self._spawn(command, server_env, log_path),
                        log_path, self.credentials)  # fmt: skip
        _wait(lambda: _answers_live(server), SERVER_START_TIMEOUT, server.process, server.log)
        return server

    def start_workers(
        self, count: int, *, queues: str, env: dict[str, str] | None = None, lean: bool = True
    ) -> list[Worker]:
        """`count` Celery workers of one pool process each, started together (their start-ups
        overlap) and ready when returned; `lean=False` keeps gossip, mingle and broker
        heartbeats on, as `make run` and production run them."""
        workers = [self._spawn_worker(queues, env or {}, lean) for _ in range(count)]
        for worker in workers:
            _wait(worker.is_ready, WORKER_READY_TIMEOUT, worker.process, worker.log)
        return workers

    def start_worker(
        self, *, queues: str, env: dict[str, str] | None = None, lean: bool = True
    ) -> Worker:
        return self.start_workers(1, queues=queues, env=env, lean=lean)[0]

    def _spawn_worker(self, queues: str, env: dict[str, str], lean: bool) -> Worker:
        name = uuid.uuid4().hex[:8]
        command = [
            sys.executable, "-m", "celery", "-A", "tradeplatform", "worker",
            "--pool", "prefork", "--concurrency", "1", "--loglevel", "INFO",
            "--queues", queues, "--hostname", f"chaos-{name}@%h",
        ]  # fmt: skip
        if lean:
            command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        log_path = self.tmp / f"worker-{name}.log"
        return Worker(self._spawn(command, {**self.env, **env}, log_path), log_path)

    def job(self, table: str, pk: int) -> dict[str, Any]:
        """A job row's lifecycle fields (`table`: one of the job kinds' tables)."""
        columns = ("status", "attempts", "progress", "error_code", "error_message")
        sql = f"SELECT {', '.join(columns)} FROM {table} WHERE id = %s"  # noqa: S608 - ours
        return dict(zip(columns, self.query(sql, pk)[0], strict=True))

    def finished_job(self, table: str, pk: int) -> dict[str, Any] | None:
        row = self.job(table, pk)
        return row if row["status"] in FINISHED else None

    def strategies_named(self, name: str) -> int:
        return int(
            self.query("SELECT count(*) FROM strategies_strategy WHERE name = %s", name)[0][0]
        )

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows from the stack's database, read directly (not through the app)."""
        import psycopg

        with psycopg.connect(self.postgres.url(self.database)) as connection:
            return connection.execute(sql, params).fetchall()  # type: ignore[arg-type]

    def stop(self) -> None:
        """SIGKILL every process group started: nothing of theirs is kept, and a graceful
        Celery shutdown would wait for the job in hand."""
        for process in self.processes:
            _signal_group(process, signal.SIGKILL)
            process.wait(timeout=10)


def _signal_group(process: subprocess.Popen, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)  # each process leads its own session and group


def _children(pid: int) -> list[int]:
    try:
        return sorted(
            int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        )
    except OSError:  # gone meanwhile
        return []


def descendants(pid: int) -> list[int]:
    """Every process under `pid` (children first)."""
    children = _children(pid)
    return children + [grandchild for child in children for grandchild in descendants(child)]


def cpu_ticks(pid: int) -> int:
    """CPU time (utime + stime, clock ticks) `pid` used so far; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def _answers_live(server: Server) -> bool:
    try:
        return server.get("/live").status == 200
    except OSError:
        return False


def _wait(
    ready: Callable[[], bool], timeout: float, process: subprocess.Popen, log: Callable[[], str]
) -> None:
    what = " ".join(str(part) for part in process.args[1:3])  # type: ignore[index]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited early:\n{log()[-4000:]}")
        if ready():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready after {timeout}s:\n{log()[-4000:]}")


@pytest.fixture(scope="module")
def stack(
    private_postgres: PrivatePostgres, chaos_redis: PrivateRedis, seeded_template, tmp_path_factory
) -> Iterator[Stack]:
    if not private_postgres.is_running():
        private_postgres.start()
    if not chaos_redis.is_running():
        chaos_redis.start()
    platform = Stack(private_postgres, chaos_redis, seeded_template,
                     tmp_path_factory.mktemp("chaos-stack"))  # fmt: skip
    try:
        yield platform
    finally:
        platform.stop()
        if not private_postgres.is_running():
            private_postgres.start()
        if not chaos_redis.is_running():
            chaos_redis.start()
