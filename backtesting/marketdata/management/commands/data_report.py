"""manage.py data_report [SYMBOL]: coverage, gaps, suspicious jumps and last update per series."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from backtesting.marketdata.reports import series_reports


class Command(BaseCommand):
    help = "Report coverage, gaps, suspicious jumps and the last update of stored bar series."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("symbol", nargs="?")
        parser.add_argument("--jump", type=float, default=0.25, help="flag close moves above this")
        parser.add_argument("--limit", type=int, default=10, help="gaps/jumps listed per series")

    def handle(self, *args: Any, **opts: Any) -> None:
        reports = series_reports(opts["symbol"], jump_threshold=opts["jump"])
        if not reports:
            self.stdout.write("No bars stored.")
            return
        for r in reports:
            span = f"{r.first:%Y-%m-%d} .. {r.last:%Y-%m-%d}" if r.first and r.last else "empty"
            self.stdout.write(self.style.MIGRATE_HEADING(f"{r.symbol} {r.timeframe}"))
            updated = f"{r.updated_at:%Y-%m-%d %H:%M} UTC"
            self.stdout.write(f"  {r.bars} bars, {span}; version {r.version}, updated {updated}")
            self.stdout.write(f"  gaps: {len(r.gaps)}, suspicious jumps: {len(r.jumps)}")
            for line in r.gaps[: opts["limit"]]:
                self.stdout.write(f"    gap {line}")
            for line in r.jumps[: opts["limit"]]:
                self.stdout.write(f"    jump {line}")
