"""`manage.py backup`: dump the database with a checksummed manifest, then apply retention.

For a cron job or a Kubernetes CronJob; exits non-zero when the backup failed, so the
scheduler's alerting sees it. Prints no connection details beyond host, name and user.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tradeplatform.backups.errors import BackupError
from tradeplatform.backups.services import backup_create


class Command(BaseCommand):
    # A recovery must not hinge on the URL conf or an app's system check passing.
    requires_system_checks: list[str] = []
    help = "Back up the database (PostgreSQL: pg_dump custom format; SQLite: online copy)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--to", dest="destination", help="directory or s3://bucket/prefix (default BACKUP_DIR)"
        )
        parser.add_argument(
            "--keep", type=int, help="keep the newest N backups there (default BACKUP_KEEP; 0: all)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = backup_create(destination=options["destination"], keep=options["keep"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = result.manifest
        self.stdout.write(
            f"Backed up {manifest.vendor} database {manifest.database} to "
            f"{result.location}/{manifest.dump_file} ({manifest.size_bytes:,} bytes, "
            f"sha256 {manifest.sha256}) in {manifest.duration_seconds:.2f} s."
        )
        self.stdout.write(f"Manifest: {result.location}/{manifest.file_name}")
        if result.deleted:
            names = ", ".join(result.deleted)
            self.stdout.write(f"Retention deleted {len(result.deleted)}: {names}")
