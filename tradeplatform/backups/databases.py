"""The database a backup is taken from or restored into, and the tools that do it.

PostgreSQL goes through the Debian client's `pg_dump`/`pg_restore` (whatever `pg_wrapper`
picks: install the client of the server's major version or newer). Connection parameters
reach them through libpq's environment (PGHOST, PGPASSWORD ...), never the command line, so
no password shows in `ps`, a log line or an error message. SQLite uses the sqlite3 online
backup API, which copies a consistent snapshot while other processes write (WAL included).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import environ

from tradeplatform.backups.errors import BackupError

POSTGRESQL = "postgresql"
SQLITE = "sqlite"

# libpq parameters Django may carry in OPTIONS (sslmode=... in a DATABASE_URL) -> environment.
_LIBPQ_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}
# pg_dump takes ACCESS SHARE locks: behind a migration's exclusive lock it would wait forever.
_LOCK_WAIT_TIMEOUT_MS = 60_000


@dataclass(frozen=True)
class DatabaseTarget:
    vendor: str
    name: str
    host: str = ""
    port: str = ""
    user: str = ""
    password: str = field(default="", repr=False)
    options: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings_dict: Mapping[str, Any]) -> DatabaseTarget:
        """From a Django DATABASES entry (or a parsed URL of the same shape)."""
        engine = str(settings_dict["ENGINE"])
        if "postgres" in engine:
            vendor = POSTGRESQL
        elif "sqlite" in engine:
            vendor = SQLITE
        else:
            raise BackupError(f"Backups support PostgreSQL and SQLite, not {engine}.")
        options = settings_dict.get("OPTIONS") or {}
        return cls(
            vendor=vendor,
            name=str(settings_dict["NAME"]),
            host=str(settings_dict.get("HOST") or ""),
            port=str(settings_dict.get("PORT") or ""),
            user=str(settings_dict.get("USER") or ""),
            password=str(settings_dict.get("PASSWORD") or ""),
            options={k: str(v) for k, v in options.items() if k in _LIBPQ_OPTIONS},
        )

    @classmethod
    def from_url(cls, url: str) -> DatabaseTarget:
        try:
            return cls.from_settings(environ.Env.db_url_config(url))
        except (KeyError, ValueError) as exc:
            raise BackupError("The database URL is not a postgres:// or sqlite:// URL.") from exc

    def describe(self) -> str:
        """Where it is, for humans: never the password."""
        if self.vendor == SQLITE:
            return f"SQLite database {self.name}"
        where = f"{self.host or 'localhost'}:{self.port or 5432}"
        return f"PostgreSQL database {self.name} on {where} as {self.user or '(default user)'}"

    def libpq_env(self) -> dict[str, str]:
        env = dict(os.environ)
        for key, value in (
            ("PGDATABASE", self.name),
            ("PGHOST", self.host),
            ("PGPORT", self.port),
            ("PGUSER", self.user),
            ("PGPASSWORD", self.password),
        ):
            if value:
                env[key] = value
        for option, value in self.options.items():
            env[_LIBPQ_OPTIONS[option]] = value
        return env

    def connect(self) -> Any:
        """A short-lived psycopg connection of our own (never one of the app's pool)."""
        import psycopg
        from psycopg.conninfo import make_conninfo

        params = {"dbname": self.name, "host": self.host, "port": self.port, "user": self.user}
        params |= {"password": self.password, "connect_timeout": "10", **self.options}
        conninfo = make_conninfo(**{k: v for k, v in params.items() if v})
        return psycopg.connect(conninfo, autocommit=True)


def run_tool(args: list[str], target: DatabaseTarget) -> str:
    """Run a PostgreSQL client tool against `target`; its stdout, or BackupError with stderr."""
    try:
        done = subprocess.run(  # noqa: S603 - fixed tool names, arguments built here
            [*args[:1], "--no-password", *args[1:]],
            env=target.libpq_env(),
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise BackupError(
            f"{args[0]} is not installed: install the PostgreSQL client "
            "(Debian: postgresql-client)."
        ) from exc
    if done.returncode != 0:
        raise BackupError(f"{args[0]} failed (exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout


def tool_version(tool: str) -> str:
    try:
        done = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False)  # noqa: S603
    except FileNotFoundError:
        return ""
    return done.stdout.strip()


def postgres_dump(target: DatabaseTarget, path: Path) -> None:
    run_tool(
        [
            "pg_dump",
            "--format=custom",
            f"--lock-wait-timeout={_LOCK_WAIT_TIMEOUT_MS}",
            f"--file={path}",
        ],
        target,
    )


def postgres_server_version(target: DatabaseTarget) -> str:
    with target.connect() as conn:
        return str(conn.execute("SHOW server_version").fetchone()[0])


def postgres_table_count(target: DatabaseTarget) -> int:
    """Tables and views outside the system schemas: 0 means an empty database."""
    sql = """
        SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%%'
    """
    with target.connect() as conn:
        return int(conn.execute(sql).fetchone()[0])


def postgres_archive_list(dump: Path) -> str:
    """pg_restore --list of the archive: also proves the archive is readable to its end."""
    return run_tool(["pg_restore", "--list", str(dump)], DatabaseTarget(POSTGRESQL, ""))


def postgres_restore(target: DatabaseTarget, dump: Path, *, clean: bool) -> None:
    # One transaction: a restore that fails half-way leaves the target as it was. No owners
    # or grants from the source: the restoring role owns what it restores (the app's role).
    args = [
        "pg_restore",
        "--exit-on-error",
        "--single-transaction",
        "--no-owner",
        "--no-privileges",
        f"--dbname={target.name}",
    ]
    if clean:
        args += ["--clean", "--if-exists"]
    run_tool([*args, str(dump)], target)


def sqlite_copy(source: Path, destination: Path) -> None:
    """A consistent copy with sqlite3's online backup API (safe while others write)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(source)
    dst = sqlite3.connect(destination)
    try:
        with dst:
            src.backup(dst)
    finally:
        dst.close()
        src.close()


def sqlite_table_count(path: Path) -> int:
    if not path.exists():
        return 0
    conn = sqlite3.connect(path)
    try:
        sql = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()
