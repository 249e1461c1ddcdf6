"""Backup and restore workflows behind `manage.py backup` and `manage.py restore`."""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from tradeplatform.backups import databases as db
from tradeplatform.backups.databases import DatabaseTarget
from tradeplatform.backups.errors import BackupCorruptError, BackupError, RestoreRefusedError
from tradeplatform.backups.manifest import NAME_PREFIX, Manifest, file_sha256, verify_dump
from tradeplatform.backups.storage import BackupStore, locate_backup, store_for

logger = logging.getLogger("tradeplatform.backups")

# `pg_restore --list` entry kinds, longest first so "TABLE DATA" is not counted as "TABLE".
_ARCHIVE_KINDS = (
    "MATERIALIZED VIEW DATA", "SEQUENCE OWNED BY", "MATERIALIZED VIEW", "FK CONSTRAINT",
    "SEQUENCE SET", "TABLE DATA", "CONSTRAINT", "EXTENSION", "SEQUENCE", "FUNCTION", "TRIGGER",
    "DEFAULT", "COMMENT", "SCHEMA", "INDEX", "TABLE", "VIEW",
)  # fmt: skip


@dataclass(frozen=True)
class BackupResult:
    manifest: Manifest
    location: str
    deleted: list[str]


@dataclass(frozen=True)
class RestorePlan:
    manifest: Manifest
    target: DatabaseTarget
    target_tables: int
    archive_summary: dict[str, int]
    schema_notes: list[str] = field(default_factory=list)
    restored: bool = False
    duration_seconds: float = 0.0


def default_store() -> BackupStore:
    return store_for(str(settings.BACKUP_DIR))


def default_target() -> DatabaseTarget:
    return DatabaseTarget.from_settings(connections["default"].settings_dict)


def backup_create(*, destination: str | None = None, keep: int | None = None) -> BackupResult:
    """Back up the default database into a store, then apply retention.

    destination: a directory or s3://bucket/prefix (default BACKUP_DIR); keep: the newest
    backups to keep there (default BACKUP_KEEP; 0 keeps all). Raises BackupError when a tool
    or the store fails.
    """
    store = store_for(destination) if destination else default_store()
    keep = settings.BACKUP_KEEP if keep is None else keep
    if keep < 0:
        raise BackupError("--keep must be 0 (keep all) or more.")
    target = default_target()
    started = time.monotonic()
    now = datetime.now(UTC)
    name = NAME_PREFIX + now.strftime("%Y%m%dT%H%M%S_%fZ")
    with tempfile.TemporaryDirectory(dir=store.staging_dir(), prefix=".partial-") as workdir:
        dump, server_version, tool = _dump(target, Path(workdir), name)
        manifest = Manifest(
            name=name,
            created_at=now.isoformat().replace("+00:00", "Z"),
            vendor=target.vendor,
            database=Path(target.name).name if target.vendor == db.SQLITE else target.name,
            dump_file=dump.name,
            size_bytes=dump.stat().st_size,
            sha256=file_sha256(dump),
            migrations=applied_migrations(),
            app_version=app_version(),
            server_version=server_version,
            dump_tool=tool,
            duration_seconds=round(time.monotonic() - started, 3),
        )
        store.save(manifest, dump)
    deleted = backups_prune(store, keep) if keep else []
    logger.info(
        "backup created",
        extra={"backup": name, "size_bytes": manifest.size_bytes, "deleted": deleted,
               "duration_seconds": manifest.duration_seconds},
    )  # fmt: skip
    return BackupResult(manifest=manifest, location=str(store), deleted=deleted)


def _dump(target: DatabaseTarget, workdir: Path, name: str) -> tuple[Path, str, str]:
    if target.vendor == db.POSTGRESQL:
        dump = workdir / f"{name}.dump"
        db.postgres_dump(target, dump)
        return dump, db.postgres_server_version(target), db.tool_version("pg_dump")
    dump = workdir / f"{name}.sqlite3"
    db.sqlite_copy(Path(target.name), dump)
    import sqlite3

    return dump, sqlite3.sqlite_version, "sqlite3 backup API"


def backups_prune(store: BackupStore, keep: int) -> list[str]:
    """Delete all but the newest `keep` backups (dump and manifest); their names."""
    old = store.manifests()[keep:]
    for manifest in old:
        store.delete(manifest)
    return [manifest.name for manifest in old]


def applied_migrations() -> dict[str, str]:
    """The schema version: the latest applied migration of each app, by name."""
    latest: dict[str, str] = {}
    for app, name in MigrationRecorder(connections["default"]).applied_migrations():
        latest[app] = max(latest.get(app, ""), name)
    return dict(sorted(latest.items()))


def app_version() -> str:
    """APP_VERSION from the environment (set by the image build), else the checkout's git sha."""
    version = os.environ.get("APP_VERSION", "")
    if version or not (Path(settings.BASE_DIR) / ".git").exists():
        return version
    try:
        done = subprocess.run(  # noqa: S603
            ["git", "-C", str(settings.BASE_DIR), "rev-parse", "HEAD"],  # noqa: S607
            capture_output=True, text=True, check=False, timeout=5,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def backup_restore(
    *,
    reference: str,
    target: DatabaseTarget | None = None,
    dry_run: bool = False,
    force: bool = False,
) -> RestorePlan:
    """Verify a backup, then restore it into `target` (default: the app's own database).

    reference: a manifest or dump path or s3:// URL, or a backup's name in BACKUP_DIR.
    dry_run checks and describes but changes nothing. Raises BackupCorruptError before
    touching the target when the dump fails its checksum or cannot be read;
    RestoreRefusedError when the target holds tables and `force` is not given, or is of
    another vendor.
    """
    store, name = locate_backup(reference, str(settings.BACKUP_DIR))
    manifest = store.load(name)
    with tempfile.TemporaryDirectory(prefix="tradeplatform-restore-") as workdir:
        dump = store.fetch_dump(manifest, Path(workdir))  # in place for a directory
        return _restore(manifest, dump, target or default_target(), dry_run=dry_run, force=force)


def _restore(
    manifest: Manifest, dump: Path, target: DatabaseTarget, *, dry_run: bool, force: bool
) -> RestorePlan:
    verify_dump(manifest, dump)
    if target.vendor != manifest.vendor:
        raise RestoreRefusedError(
            f"The backup is of a {manifest.vendor} database; the target is {target.describe()}."
        )
    plan = RestorePlan(
        manifest=manifest,
        target=target,
        target_tables=_table_count(target),
        archive_summary=_archive_summary(manifest, dump),
        schema_notes=schema_notes(manifest),
    )
    if dry_run:
        return plan
    if plan.target_tables and not force:
        raise RestoreRefusedError(
            f"{target.describe()} is not empty ({plan.target_tables} tables). Nothing was "
            "changed. Restore into an empty database, or pass --force to replace what the "
            "backup contains."
        )
    started = time.monotonic()
    if target.vendor == db.POSTGRESQL:
        db.postgres_restore(target, dump, clean=bool(plan.target_tables))
    else:
        db.sqlite_copy(dump, Path(target.name))
    duration = round(time.monotonic() - started, 3)
    logger.info("backup restored", extra={"backup": manifest.name, "duration_seconds": duration})
    return RestorePlan(**{**plan.__dict__, "restored": True, "duration_seconds": duration})


def _table_count(target: DatabaseTarget) -> int:
    if target.vendor == db.POSTGRESQL:
        return db.postgres_table_count(target)
    return db.sqlite_table_count(Path(target.name))


def _archive_summary(manifest: Manifest, dump: Path) -> dict[str, int]:
    """What the dump holds, by kind of object. Reading it all also proves it is readable."""
    if manifest.vendor == db.SQLITE:
        try:
            return {"TABLE": db.sqlite_table_count(dump)}
        except Exception as exc:  # sqlite3.DatabaseError: not a database file
            raise BackupCorruptError(f"The dump {dump.name} is not readable: {exc}") from exc
    try:
        listing = db.postgres_archive_list(dump)
    except BackupError as exc:
        raise BackupCorruptError(f"The dump {dump.name} is not readable: {exc}") from exc
    kinds: Counter[str] = Counter()
    for line in listing.splitlines():
        if not line or line.startswith(";"):
            continue
        rest = line.split(";", 1)[-1].split(maxsplit=2)[-1]  # drop "id; tableoid oid"
        kinds[next((k for k in _ARCHIVE_KINDS if rest.startswith(k + " ")), "OTHER")] += 1
    return dict(sorted(kinds.items()))


def schema_notes(manifest: Manifest) -> list[str]:
    """How the backup's schema version compares with this release's migrations."""
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    notes = []
    for app, name in manifest.migrations.items():
        if (app, name) not in graph.nodes:
            notes.append(
                f"{app}: the backup has migration {name}, which this release does not know: "
                "restore it with the release that made it (the manifest's app_version)."
            )
    leaves = dict(graph.leaf_nodes())
    behind = sorted(app for app, leaf in leaves.items() if manifest.migrations.get(app) != leaf)
    if behind and not notes:
        notes.append(
            "The backup predates migrations of " + ", ".join(behind) + ": run "
            "`manage.py migrate` after restoring."
        )
    return notes
