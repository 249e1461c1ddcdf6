"""The app through a private PgBouncer in transaction mode, in front of the shared PostgreSQL.

A Django process with DATABASE_POOLER=pgbouncer (our pool backend, against PgBouncer's port)
runs ORM work from several threads while PgBouncer has only two server connections, so
consecutive transactions of one client land on different server connections: a server-side
cursor or a prepared statement surviving its transaction would fail there.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.tradeplatform.gunicorn_server import free_port

ROOT = Path(__file__).resolve().parents[2]
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
SERVER_CONNECTIONS = 2

# Runs in a child process whose settings point at PgBouncer.
ORM_WORK = r"""
import json, threading
import django
django.setup()
from django.conf import settings
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from accounts.models import User

out = {"server_side_cursors_disabled": settings.DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"],
       "prepare_threshold": settings.DATABASES["default"]["OPTIONS"]["prepare_threshold"]}
User.objects.bulk_create(
    [User(username=f"pgb-{i}", email=f"pgb-{i}@example.com") for i in range(5000)],
    batch_size=1000,
)
with CaptureQueriesContext(connection) as captured:
    out["iterated"] = sum(1 for _ in User.objects.filter(username__startswith="pgb-")
                          .order_by("pk").iterator(chunk_size=500))
out["declared_cursor"] = any("DECLARE" in q["sql"].upper() for q in captured.captured_queries)

with transaction.atomic():  # a transaction: locks and reads its own writes on one server conn
    user = User.objects.select_for_update().get(username="pgb-1")
    user.first_name = "Committed"
    user.save(update_fields=["first_name"])
    out["read_own_write"] = User.objects.get(pk=user.pk).first_name
try:
    with transaction.atomic():
        User.objects.filter(username="pgb-2").update(first_name="RolledBack")
        raise RuntimeError("roll back")
except RuntimeError:
    pass
out["after_rollback"] = User.objects.get(username="pgb-2").first_name

errors = []
def many_small_transactions(n):
    try:
        for i in range(60):  # far more than the prepare threshold psycopg would use
            User.objects.filter(username=f"pgb-{n * 100 + i}").exists()
            with transaction.atomic():
                User.objects.filter(username=f"pgb-{n * 100 + i}").update(last_name=str(n))
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        connections.close_all()
threads = [threading.Thread(target=many_small_transactions, args=(n,)) for n in range(4)]
for t in threads: t.start()
for t in threads: t.join()
out["thread_errors"] = errors
pgb_users = User.objects.filter(username__startswith="pgb-")
out["updated_by_threads"] = pgb_users.exclude(last_name="").count()
print("RESULT " + json.dumps(out))
"""


class PrivatePgBouncer:
    def __init__(self, base: Path) -> None:
        self.base, self.port = base, free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def write_config(self) -> Path:
        db = settings.DATABASES["default"]
        (self.base / "userlist.txt").write_text(f'"{db["USER"]}" "{db.get("PASSWORD") or ""}"\n')
        config = self.base / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"* = host={db['HOST']} port={db.get('PORT') or 5432}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.base / 'userlist.txt'}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {SERVER_CONNECTIONS}\nmin_pool_size = 0\nreserve_pool_size = 0\n"
            "max_client_conn = 50\n"
            f"logfile = {self.base / 'pgbouncer.log'}\npidfile = {self.base / 'pgbouncer.pid'}\n"
        )
        if self.as_user:  # PgBouncer refuses to run as root
            for path in (self.base, *self.base.iterdir()):
                shutil.chown(path, user="postgres")
        return config

    def start(self) -> None:
        config = self.write_config()
        self.process = subprocess.Popen(
            [*self.as_user, PGBOUNCER, str(config)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.process.poll() is None:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.05)
        raise RuntimeError(f"pgbouncer did not start:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # SIGINT: PgBouncer's safe shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def log(self) -> str:
        path = self.base / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture
def pgbouncer() -> Iterator[PrivatePgBouncer]:
    if connection.vendor != "postgresql":
        pytest.skip("PgBouncer fronts PostgreSQL")
    if not Path(PGBOUNCER).exists():
        pytest.fail("pgbouncer is not installed: run `make system-packages`")
    base = Path(tempfile.mkdtemp(prefix="tp-pgbouncer-"))
    server = PrivatePgBouncer(base)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_orm_work_through_pgbouncer_in_transaction_mode(pgbouncer, transactional_db) -> None:
    db = settings.DATABASES["default"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DJANGO_ENV="test",
        DJANGO_SETTINGS_MODULE="tradeplatform.settings",
        DATABASE_URL=f"postgres://{db['USER']}@127.0.0.1:{pgbouncer.port}/{db['NAME']}",
        DATABASE_POOLER="pgbouncer",
        TP_PROCESS_KIND="web",
        DB_POOL_MAX_SIZE="4",
        # Five callers share four pooled connections and PgBouncer's two: on a busy 2-core box
        # a thread can wait past the default 3 s, which is the pool's timing, not what is tested.
        DB_POOL_TIMEOUT="60",
        DOTENV_FILE="",
    )
    result = subprocess.run(
        [sys.executable, "-c", ORM_WORK], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:] + pgbouncer.log()[-2000:]
    out = json.loads(result.stdout.split("RESULT ", 1)[1])
    assert out["server_side_cursors_disabled"] is True
    assert out["prepare_threshold"] is None
    assert out["iterated"] == 5000
    assert out["declared_cursor"] is False  # iterator() fetched client-side, in chunks
    assert out["read_own_write"] == "Committed"
    assert out["after_rollback"] == ""
    assert out["thread_errors"] == []
    assert out["updated_by_threads"] == 4 * 60
