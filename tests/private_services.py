"""Private PostgreSQL and Redis servers that a test may stop, kill and start again.

Outages are never rehearsed on the shared services: each of these runs on a free port of its
own, with its data in a temporary directory. The binaries are components
(tests/components.py): when one is missing CI fails the test, so it cannot silently lose the
fault tests; elsewhere (`make test` on a laptop) it is skipped and the run says so loudly.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.components import component_require, postgres_binary_path

REDIS_READY_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_binary(name: str) -> str:
    component_require("postgresql")
    return str(postgres_binary_path(name))


class PrivatePostgres:
    """One throwaway PostgreSQL cluster: its own data directory, port and socket directory.

    As root (containers, CI) the cluster is run by the `postgres` system user, as PostgreSQL
    refuses root.
    """

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

    def url(self, database: str, *, port: int | None = None) -> str:
        return f"postgres://postgres@127.0.0.1:{port or self.port}/{database}"

    def execute(self, statement: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as connection:
            connection.execute(statement)  # type: ignore[arg-type]  # test-made DDL only

    def create_database(self, name: str, *, template: str = "") -> None:
        self.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


class PrivateRedis:
    """A redis-server without persistence on a port of its own: a restart loses every key."""

    def __init__(self, log_path: Path) -> None:
        self.port, self.log_path = free_port(), log_path
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    @staticmethod
    def _binary() -> str:
        component_require("redis-server")
        return "redis-server"

    def start(self) -> None:
        command = [
            self._binary(),
            "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--daemonize", "no",
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + REDIS_READY_TIMEOUT
        while time.monotonic() < deadline and self.process.poll() is None:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn,
            ):
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"private redis-server not ready:\n{self.log_path.read_text()}")

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would: nothing is flushed, every key is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def restart(self) -> None:
        self.kill()
        self.start()
