"""manage.py load_demo_marketdata: import the bundled real daily bars (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from backtesting.marketdata.errors import BarImportError
from backtesting.marketdata.services import demo_marketdata_load


class Command(BaseCommand):
    help = "Load AAPL, GOOG, IBM and MSFT daily bars (public-domain Quandl WIKI data, adjusted)."

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            reports = demo_marketdata_load()
        except BarImportError as exc:
            raise CommandError(f"demo data did not import: {exc.details}") from None
        for report in reports:
            self.stdout.write(
                f"{report.symbol} {report.timeframe}: {report.rows_valid} bars "
                f"({report.first[:10] if report.first else '-'} .. "
                f"{report.last[:10] if report.last else '-'}); inserted {report.counts.inserted}, "
                f"updated {report.counts.updated}, unchanged {report.counts.unchanged}"
            )
