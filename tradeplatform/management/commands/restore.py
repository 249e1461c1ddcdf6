"""`manage.py restore <backup>`: verify a backup, then restore it (docs/operations.md).

The checksum and the archive are checked before the target is touched; a target that holds
tables is only replaced with --force; --dry-run says what would happen and changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tradeplatform.backups.databases import DatabaseTarget
from tradeplatform.backups.errors import BackupError
from tradeplatform.backups.services import RestorePlan, backup_restore


class Command(BaseCommand):
    # A recovery must not hinge on the URL conf or an app's system check passing.
    requires_system_checks: list[str] = []
    help = "Restore a backup made by `manage.py backup` into an empty database (or --force)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "backup", help="a manifest or dump (path or s3:// URL), or a name in BACKUP_DIR"
        )
        parser.add_argument("--dry-run", action="store_true", help="check and describe only")
        parser.add_argument("--force", action="store_true", help="replace a non-empty database")
        parser.add_argument(
            "--database-url", help="restore into this database instead of DATABASE_URL's"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            url = options["database_url"]
            target = DatabaseTarget.from_url(url) if url else None
            plan = backup_restore(
                reference=options["backup"],
                target=target,
                dry_run=options["dry_run"],
                force=options["force"],
            )
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write("\n".join(describe(plan, force=options["force"])))


def describe(plan: RestorePlan, *, force: bool) -> list[str]:
    manifest = plan.manifest
    contents = ", ".join(f"{count} {kind}" for kind, count in plan.archive_summary.items())
    lines = [
        f"Backup {manifest.name}: {manifest.vendor}, made {manifest.created_at} from "
        f"{manifest.database}, app version {manifest.app_version or 'unknown'}; checksum OK.",
        f"Contents: {contents}.",
        f"Target: {plan.target.describe()}, {plan.target_tables} tables now.",
        *plan.schema_notes,
    ]
    if plan.restored:
        lines.append(f"Restored in {plan.duration_seconds:.2f} s.")
    elif not plan.target_tables:
        lines.append("Dry run: would restore into the empty target. Nothing changed.")
    elif force:
        lines.append("Dry run: would replace the target's objects (--force). Nothing changed.")
    else:
        lines.append("Dry run: the target is not empty: a restore needs --force. Nothing changed.")
    return lines
