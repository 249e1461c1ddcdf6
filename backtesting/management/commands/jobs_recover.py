"""`manage.py jobs_recover`: one recovery sweep over every registered job kind, then exit.

For a Kubernetes CronJob (or an operator at a shell): the workers already sweep every
BACKTEST_RECOVERY_INTERVAL_SECONDS, so this is a second line of defence when no worker is up
to do it. It takes no lock: every write of the sweep is conditional on the state it read, so
a sweep overlapping a worker's is harmless.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from backtesting.jobs.recovery import RecoveryReport, jobs_recover_stale


class Command(BaseCommand):
    help = "Re-publish jobs of every kind whose worker or message was lost; print what was done."

    def handle(self, *args: Any, **options: Any) -> None:
        reports = jobs_recover_stale()
        for name, report in reports.items():
            self.stdout.write(report_line(name, report))
        total = sum(report.total for report in reports.values())
        self.stdout.write(f"{total} job(s) recovered.")


def report_line(kind: str, report: RecoveryReport) -> str:
    parts = (
        ("requeued after their worker was lost", report.requeued_running),
        ("requeued after their message was lost", report.requeued_queued),
        ("cancelled (asked for while their worker was lost)", report.cancelled),
    )
    return f"{kind}: " + "; ".join(f"{len(ids)} {what} {ids}" for what, ids in parts)
