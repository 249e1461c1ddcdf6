"""`manage.py backup` and `restore` against the real PostgreSQL test database.

The data is committed (transactional tests), dumped with pg_dump, restored with pg_restore
into a fresh scratch database, and compared table by table: row counts, five rows by primary
key with every column, and each sequence's position. Timings are printed, never asserted.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder

from tradeplatform.backups.databases import DatabaseTarget
from tradeplatform.backups.errors import BackupCorruptError, RestoreRefusedError
from tradeplatform.backups.manifest import Manifest, file_sha256
from tradeplatform.backups.services import backup_create, backup_restore

# The data must be committed for pg_dump (another connection) to see it.
committed = pytest.mark.django_db(transaction=True)
postgres_only = pytest.mark.skipif(
    not settings.DATABASE_URL.startswith("postgres"),
    reason="the round trip needs PostgreSQL (CI sets DATABASE_URL); the SQLite test runs anyway",
)

SAMPLE_ROWS = 5


def source_target() -> DatabaseTarget:
    return DatabaseTarget.from_settings(connections["default"].settings_dict)


@pytest.fixture
def scratch_database() -> Iterator[DatabaseTarget]:
    """A fresh, empty database next to the test database, dropped afterwards."""
    source = source_target()
    base = source.name.removeprefix("test_")
    target = DatabaseTarget(**{**source.__dict__, "name": f"{base}_restore_{secrets.token_hex(4)}"})
    admin = DatabaseTarget(**{**source.__dict__, "name": "postgres"})
    with admin.connect() as conn:
        conn.execute(f'CREATE DATABASE "{target.name}"')
    try:
        yield target
    finally:
        with admin.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{target.name}" WITH (FORCE)')


@pytest.fixture
def trading_data(monkeypatch) -> dict[str, Any]:
    """Users, a strategy with versions, an instrument with bars, and a submitted backtest."""
    from backtesting.services import backtest_submit

    # Nothing is published: a Celery worker that another module started on this test
    # database would run the backtest between the backup and the comparison.
    monkeypatch.setattr("backtesting.jobs.lifecycle.task_enqueue_on_commit", lambda *a, **k: None)
    from tests.backtesting.conftest import make_input, seed_bars
    from tests.factories import OperatorFactory, StrategyFactory, StrategyVersionFactory

    owner = OperatorFactory(username="backup-owner")
    strategy: Any = StrategyFactory(owner=owner, name="Backed-up strategy \N{EURO SIGN}")
    StrategyVersionFactory(strategy=strategy, code="# second version\n" + "x = 1\n")
    instrument = seed_bars("BAK", n=300)
    version = strategy.versions.get(number=1)
    backtest = backtest_submit(owner=owner, data=make_input(version, symbols=["BAK"]))
    return {"owner": owner, "instrument": instrument, "backtest": backtest}


def public_tables(target: DatabaseTarget) -> list[str]:
    with target.connect() as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        ).fetchall()
    return [row[0] for row in rows]


def primary_key(conn: Any, table: str) -> list[str]:
    rows = conn.execute(
        """SELECT a.attname FROM pg_index i
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
           WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY a.attnum""",
        [f'public."{table}"'],
    ).fetchall()
    return [row[0] for row in rows]


def table_snapshot(target: DatabaseTarget) -> dict[str, tuple[int, list[tuple[Any, ...]]]]:
    """Every public table: its row count and its first rows by primary key, all columns."""
    snapshot = {}
    with target.connect() as conn:
        for table in public_tables(target):
            # Table and column names come from the catalogue, not from any input.
            count = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # noqa: S608
            order = ", ".join(f'"{c}"' for c in primary_key(conn, table)) or "1"
            rows = conn.execute(
                f'SELECT * FROM "{table}" ORDER BY {order} LIMIT {SAMPLE_ROWS}'  # noqa: S608
            ).fetchall()
            snapshot[table] = (count, rows)
    return snapshot


def sequence_positions(target: DatabaseTarget) -> dict[str, Any]:
    with target.connect() as conn:
        rows = conn.execute(
            "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"
        ).fetchall()
    return dict(rows)


@committed
@postgres_only
def test_a_backup_restored_into_a_fresh_database_has_every_row(
    trading_data, scratch_database, tmp_path
):
    started = time.monotonic()
    result = backup_create(destination=str(tmp_path), keep=0)
    backed_up = time.monotonic() - started
    manifest = result.manifest
    dump = tmp_path / manifest.dump_file
    assert manifest.vendor == "postgresql"
    assert manifest.sha256 == file_sha256(dump)
    assert manifest.size_bytes == dump.stat().st_size
    recorder = MigrationRecorder(connections["default"])
    applied = recorder.applied_migrations()
    assert manifest.migrations["marketdata"] == max(n for a, n in applied if a == "marketdata")
    assert set(manifest.migrations) == {app for app, _ in applied}

    started = time.monotonic()
    plan = backup_restore(reference=str(tmp_path / manifest.file_name), target=scratch_database)
    restored = time.monotonic() - started
    assert plan.restored
    assert plan.target_tables == 0

    source, copy = table_snapshot(source_target()), table_snapshot(scratch_database)
    assert sorted(copy) == sorted(source)
    for table, (count, rows) in source.items():
        assert copy[table] == (count, rows), table
    # Not a comparison of two empty databases: the fixture's rows are there.
    assert source["marketdata_bar"][0] == 300
    assert source["accounts_user"][0] >= 1
    assert source["backtesting_backtest"][0] == 1
    assert sequence_positions(scratch_database) == sequence_positions(source_target())
    timings = f"backup {backed_up:.2f} s, restore {restored:.2f} s, dump {manifest.size_bytes} B"
    print("\n" + timings)  # noqa: T201 - timings are printed, never asserted


@committed
@postgres_only
def test_restore_refuses_a_dump_whose_checksum_does_not_match(
    trading_data, scratch_database, tmp_path
):
    manifest = backup_create(destination=str(tmp_path), keep=0).manifest
    dump = tmp_path / manifest.dump_file
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, same size
    dump.write_bytes(bytes(data))

    with pytest.raises(CommandError, match="fails its checksum"):
        call_command("restore", str(dump), database_url=url_of(scratch_database))
    with pytest.raises(BackupCorruptError):
        backup_restore(reference=str(dump), target=scratch_database, dry_run=True)
    assert public_tables(scratch_database) == []


@committed
@postgres_only
def test_restore_refuses_a_truncated_dump(trading_data, scratch_database, tmp_path):
    manifest = backup_create(destination=str(tmp_path), keep=0).manifest
    dump = tmp_path / manifest.dump_file
    dump.write_bytes(dump.read_bytes()[:-100])

    with pytest.raises(BackupCorruptError, match="truncated"):
        backup_restore(reference=str(dump), target=scratch_database)
    assert public_tables(scratch_database) == []


@committed
@postgres_only
def test_restore_refuses_a_non_empty_database_without_force_and_replaces_it_with(
    trading_data, scratch_database, tmp_path
):
    manifest = backup_create(destination=str(tmp_path), keep=0).manifest
    reference = str(tmp_path / manifest.file_name)
    backup_restore(reference=reference, target=scratch_database)
    with scratch_database.connect() as conn:
        conn.execute(
            "DELETE FROM marketdata_bar WHERE id IN (SELECT id FROM marketdata_bar LIMIT 7)"
        )

    with pytest.raises(RestoreRefusedError, match="not empty"):
        backup_restore(reference=reference, target=scratch_database)
    with pytest.raises(CommandError, match="pass --force"):
        call_command("restore", reference, database_url=url_of(scratch_database))
    assert table_snapshot(scratch_database)["marketdata_bar"][0] == 293  # untouched

    call_command("restore", reference, database_url=url_of(scratch_database), force=True)
    assert table_snapshot(scratch_database) == table_snapshot(source_target())


@committed
@postgres_only
def test_a_dry_run_describes_the_backup_and_changes_nothing(
    trading_data, scratch_database, tmp_path, capsys
):
    manifest = backup_create(destination=str(tmp_path), keep=0).manifest

    call_command(
        "restore", str(tmp_path / manifest.file_name),
        database_url=url_of(scratch_database), dry_run=True,
    )  # fmt: skip

    out = capsys.readouterr().out
    assert f"Backup {manifest.name}: postgresql" in out
    assert "checksum OK" in out
    tables = len(public_tables(source_target()))
    assert f"{tables} TABLE," in out  # pg_restore --list, summarised by kind
    assert "TABLE DATA" in out
    assert "0 tables now" in out
    assert "Nothing changed" in out
    assert public_tables(scratch_database) == []


@committed
@postgres_only
def test_retention_keeps_the_newest_backups_and_nothing_else_is_touched(trading_data, tmp_path):
    unrelated = tmp_path / "notes.txt"
    unrelated.write_text("not a backup")
    names = [backup_create(destination=str(tmp_path), keep=2).manifest.name for _ in range(3)]

    call_command("backup", to=str(tmp_path), keep=2)

    manifests = sorted(p.name for p in tmp_path.glob("*.manifest.json"))
    dumps = sorted(p.name for p in tmp_path.glob("*.dump"))
    kept = [json.loads((tmp_path / m).read_text())["name"] for m in manifests]
    assert len(kept) == 2
    assert names[2] in kept  # the newest of the first three, and the command's own
    assert names[0] not in kept and names[1] not in kept
    assert dumps == sorted(f"{name}.dump" for name in kept)
    assert unrelated.read_text() == "not a backup"


def test_the_password_reaches_pg_dump_only_through_its_environment(monkeypatch, tmp_path):
    from tradeplatform.backups import databases

    seen: dict[str, Any] = {}

    def fake_run(args, **kwargs):
        seen.update(args=args, env=kwargs["env"])
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(databases.subprocess, "run", fake_run)
    target = DatabaseTarget.from_url(
        "postgres://app:s3cret-pw@db.internal:6432/prod?sslmode=require"
    )

    databases.postgres_dump(target, tmp_path / "x.dump")

    assert "s3cret-pw" not in " ".join(seen["args"])
    assert "s3cret-pw" not in target.describe() and "s3cret-pw" not in repr(target)
    assert seen["env"]["PGPASSWORD"] == "s3cret-pw"
    assert seen["env"]["PGHOST"] == "db.internal" and seen["env"]["PGSSLMODE"] == "require"


def url_of(target: DatabaseTarget) -> str:
    return f"postgres://{target.user}@{target.host}:{target.port}/{target.name}"


def test_sqlite_is_backed_up_online_and_restored_by_the_commands(tmp_path):
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    live = sqlite3.connect(var_dir / "tradeplatform.sqlite3")
    live.execute("PRAGMA journal_mode=WAL")
    live.execute("CREATE TABLE bars (id INTEGER PRIMARY KEY, close REAL)")
    live.executemany("INSERT INTO bars (close) VALUES (?)", [(i * 1.5,) for i in range(1000)])
    live.commit()  # the writer stays open: the copy is taken online, WAL and all
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")
    } | {"VAR_DIR": str(var_dir), "DJANGO_ENV": "test", "DOTENV_FILE": "",
         "CELERY_BROKER_URL": "", "BACKUP_DIR": str(tmp_path / "backups")}  # fmt: skip

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env,
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    manage("backup")
    live.close()
    (manifest_path,) = (tmp_path / "backups").glob("*.manifest.json")
    manifest = Manifest.from_json(manifest_path.read_text(), source="test")
    assert manifest.vendor == "sqlite"
    restored = tmp_path / "restored.sqlite3"

    out = manage("restore", manifest.name, "--database-url", f"sqlite:///{restored}")

    assert "Restored in" in out
    copy = sqlite3.connect(restored)
    assert copy.execute("SELECT count(*), sum(close) FROM bars").fetchone() == (1000, 749250.0)
    copy.close()


@pytest.fixture
def s3_bucket(monkeypatch) -> Iterator[Any]:
    """An S3 bucket in moto's in-process fake; boto3 reads the fake credentials as usual."""
    import boto3
    from moto import mock_aws

    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket="tp-backups")
        yield client


def s3_keys(client: Any) -> list[str]:
    listing = client.list_objects_v2(Bucket="tp-backups")
    return sorted(item["Key"] for item in listing.get("Contents", []))


@committed
@postgres_only
def test_backups_go_to_s3_with_retention_and_restore_from_there(
    trading_data, scratch_database, s3_bucket
):
    s3_bucket.put_object(Bucket="tp-backups", Key="nightly/README", Body=b"not a backup")
    s3_bucket.put_object(Bucket="tp-backups", Key="nightly/old/tradeplatform-x.dump", Body=b"")
    names = [backup_create(destination="s3://tp-backups/nightly", keep=2).manifest.name
             for _ in range(3)]  # fmt: skip

    keys = s3_keys(s3_bucket)
    assert keys == sorted(
        ["nightly/README", "nightly/old/tradeplatform-x.dump"]
        + [f"nightly/{n}{suffix}" for n in names[1:] for suffix in (".dump", ".manifest.json")]
    )
    plan = backup_restore(
        reference=f"s3://tp-backups/nightly/{names[2]}.manifest.json", target=scratch_database
    )
    assert plan.restored
    assert table_snapshot(scratch_database) == table_snapshot(source_target())


@committed
@postgres_only
def test_a_tampered_dump_in_s3_is_refused(trading_data, scratch_database, s3_bucket, settings):
    settings.BACKUP_DIR = "s3://tp-backups/nightly"
    name = backup_create(keep=0).manifest.name
    key = f"nightly/{name}.dump"
    data = bytearray(s3_bucket.get_object(Bucket="tp-backups", Key=key)["Body"].read())
    data[-1] ^= 0x01
    s3_bucket.put_object(Bucket="tp-backups", Key=key, Body=bytes(data))

    with pytest.raises(CommandError, match="fails its checksum"):
        call_command("restore", name, database_url=url_of(scratch_database))  # by name
    assert public_tables(scratch_database) == []
