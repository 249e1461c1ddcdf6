"""manage.py fetch_bars SYMBOL --source stooq --start 2020-01-01 --end 2020-12-31."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backtesting.marketdata.errors import BarImportError, ProviderError
from backtesting.marketdata.progress import TerminalProgress
from backtesting.marketdata.providers import PROVIDERS, get_provider
from backtesting.marketdata.services import bars_fetch, instrument_ensure


class Command(BaseCommand):
    help = "Fetch daily bars from a provider over HTTP and import them (upsert)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("symbol")
        parser.add_argument("--source", default="stooq", choices=sorted(PROVIDERS))
        parser.add_argument("--start", type=date.fromisoformat, required=True)
        parser.add_argument("--end", type=date.fromisoformat, default=date.today())
        parser.add_argument("--skip-invalid", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["start"] > opts["end"]:
            raise CommandError("--start must not be after --end.")
        instrument, _ = instrument_ensure(symbol=opts["symbol"])
        try:
            report = bars_fetch(
                instrument=instrument,
                provider=get_provider(opts["source"]),
                start=opts["start"],
                end=opts["end"],
                skip_invalid=opts["skip_invalid"],
                progress=TerminalProgress.on_command_output(self.stderr, instrument.symbol),
            )
        except (ProviderError, BarImportError) as exc:
            for problem in (
                (exc.details or {}).get("rejected", []) if isinstance(exc.details, dict) else []
            ):
                self.stderr.write(
                    f"line {problem['line']}: {problem['code']}: {problem['message']}"
                )
            raise CommandError(f"{opts['source']}: {exc.message}") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"{report.symbol} 1d from {opts['source']}: {report.rows_valid} bars; "
                f"inserted {report.counts.inserted}, updated {report.counts.updated}, "
                f"unchanged {report.counts.unchanged}; version {report.version}"
            )
        )
