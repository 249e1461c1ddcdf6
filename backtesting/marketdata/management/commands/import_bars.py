"""manage.py import_bars SYMBOL FILE --timeframe 1d: validate and upsert a CSV of bars."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backtesting.marketdata.errors import BarImportError
from backtesting.marketdata.models import AssetClass
from backtesting.marketdata.progress import TerminalProgress
from backtesting.marketdata.services import ImportReport, bars_import, instrument_ensure
from backtesting.marketdata.timeframes import Timeframe


class Command(BaseCommand):
    help = (
        "Import OHLCV bars from a CSV file (plain or .gz); nothing is written unless it is valid."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("symbol")
        parser.add_argument("file", type=Path)
        parser.add_argument("--timeframe", default="1d", choices=[tf.value for tf in Timeframe])
        parser.add_argument(
            "--tz", help="zone of naive times in the file (default: the instrument's)"
        )
        parser.add_argument(
            "--skip-invalid", action="store_true", help="write the valid rows anyway"
        )
        parser.add_argument("--adjusted", action="store_true", help="use the Adj Close column")
        parser.add_argument("--max-gap", type=int, help="missing bars tolerated between two bars")
        parser.add_argument(
            "--asset-class",
            default=AssetClass.EQUITY,
            choices=AssetClass.values,
            help="for a new instrument",
        )
        parser.add_argument("--instrument-tz", default="UTC", help="time zone of a new instrument")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **opts: Any) -> None:
        instrument, created = instrument_ensure(
            symbol=opts["symbol"], asset_class=opts["asset_class"], timezone=opts["instrument_tz"]
        )
        if created:
            self.stdout.write(f"Created instrument {instrument.symbol}.")
        try:
            with opts["file"].open("rb") as handle:
                report = bars_import(
                    instrument=instrument,
                    source=handle,
                    timeframe=opts["timeframe"],
                    tz_name=opts["tz"],
                    skip_invalid=opts["skip_invalid"],
                    use_adj_close=opts["adjusted"],
                    max_missing=opts["max_gap"],
                    progress=TerminalProgress.on_command_output(
                        self.stderr, f"{instrument.symbol} {opts['timeframe']}"
                    ),
                )
        except OSError as exc:
            raise CommandError(f"Cannot read {opts['file']}: {exc}") from exc
        except BarImportError as exc:
            self._print_problems(exc.details or {})
            count = len((exc.details or {}).get("rejected", []))
            raise CommandError(f"{exc.message} ({count} problem(s))") from None
        self._print_report(report, as_json=opts["json"])

    def _print_problems(self, details: dict[str, Any]) -> None:
        for problem in details.get("rejected", []):
            self.stderr.write(f"line {problem['line']}: {problem['code']}: {problem['message']}")

    def _print_report(self, report: ImportReport, *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
            return
        for label, problems in (("rejected", report.rejected), ("warning", report.warnings)):
            for problem in problems:
                self.stderr.write(f"{label} line {problem.line}: {problem.code}: {problem.message}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{report.symbol} {report.timeframe}: "
                f"{report.rows_valid} valid of {report.rows_read} rows; "
                f"inserted {report.counts.inserted}, updated {report.counts.updated}, "
                f"unchanged {report.counts.unchanged}; version {report.version} "
                f"({report.first} .. {report.last})"
            )
        )
