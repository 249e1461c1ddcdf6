"""Market-data workflows: importing bar files, fetching from providers, bumping series versions."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from backtesting.engine import BarSeries
from backtesting.marketdata.csvformat import FileFormatError, ParsedBars, Problem, parse_bars
from backtesting.marketdata.errors import BarImportError
from backtesting.marketdata.models import AssetClass, Instrument, SeriesVersion
from backtesting.marketdata.providers.base import BarProvider
from backtesting.marketdata.timeframes import Timeframe
from backtesting.marketdata.validation import DEFAULT_MAX_MISSING, SeriesRules, validate_bars
from backtesting.marketdata.writes import Progress, WriteCounts, bars_upsert, ns_to_datetime

logger = logging.getLogger(__name__)


@dataclass
class ImportReport:
    symbol: str
    timeframe: str
    rows_read: int = 0
    rows_valid: int = 0
    rejected: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    counts: WriteCounts = field(default_factory=WriteCounts)
    version: int | None = None
    first: str | None = None
    last: str | None = None

    @property
    def ok(self) -> bool:
        return not self.rejected

    def as_dict(self) -> dict[str, object]:
        return {
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "rows_read": self.rows_read,
            "rows_valid": self.rows_valid,
            "rows_rejected": len(self.rejected),
            "inserted": self.counts.inserted,
            "updated": self.counts.updated,
            "unchanged": self.counts.unchanged,
            "version": self.version,
            "first": self.first,
            "last": self.last,
            "rejected": [p.as_dict() for p in self.rejected],
            "warnings": [p.as_dict() for p in self.warnings],
        }


def instrument_ensure(*, symbol: str, **defaults: object) -> tuple[Instrument, bool]:
    """The instrument with this symbol (upper-cased), created with `defaults` when missing."""
    clean = symbol.strip().upper()
    if not clean or len(clean) > 32 or any(ch.isspace() for ch in clean):
        raise BarImportError(f"Not a valid symbol: {symbol!r}.")
    return Instrument.objects.get_or_create(symbol=clean, defaults=defaults)


def bars_import(
    *,
    instrument: Instrument,
    source: IO[bytes] | bytes,
    timeframe: Timeframe | str,
    tz_name: str | None = None,
    skip_invalid: bool = False,
    use_adj_close: bool = False,
    max_missing: int | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate a CSV (plain or gzip) of bars and upsert it in one transaction.

    tz_name: zone of naive times in the file (default: the instrument's). Without skip_invalid
    any rejected row or gap aborts the import; with it, valid rows are written, rejected rows
    reported and gaps become warnings. Returns the ImportReport; raises BarImportError (whose
    details are the report) when nothing was written because the file is invalid.
    """
    tf = Timeframe(timeframe)
    report = ImportReport(symbol=instrument.symbol, timeframe=tf.value)
    parsed = _parse_or_fail(report, source, tf, tz_name or instrument.timezone, use_adj_close)
    rules = SeriesRules(
        timeframe=tf,
        tz_name=instrument.timezone,
        trades_every_day=instrument.asset_class == AssetClass.CRYPTO,
        max_missing=DEFAULT_MAX_MISSING[tf] if max_missing is None else max_missing,
    )
    checked = validate_bars(parsed, rules)
    report.rows_read = parsed.rows_read
    report.rejected = sorted(parsed.problems + checked.rejected, key=lambda p: p.line or 0)
    report.rows_valid = int(checked.valid.sum())
    if skip_invalid:
        report.warnings = checked.gaps
    else:
        report.rejected = sorted(report.rejected + checked.gaps, key=lambda p: p.line or 0)
        if report.rejected:
            raise BarImportError(details=report.as_dict())
    if report.rows_valid == 0 and not report.rejected:
        report.rejected.append(Problem(None, "empty_file", "The file has no data rows."))
    if report.rows_valid == 0:
        raise BarImportError(details=report.as_dict())
    _write(
        report, instrument, tf, _valid_arrays(instrument.symbol, parsed, checked.valid), progress
    )
    return report


def _parse_or_fail(
    report: ImportReport, source: IO[bytes] | bytes, tf: Timeframe, tz_name: str, adj: bool
) -> ParsedBars:
    try:
        # The upload cap bounds the compressed size; the same cap bounds the text it inflates to.
        return parse_bars(
            source,
            timeframe=tf,
            tz_name=tz_name,
            use_adj_close=adj,
            max_bytes=settings.MARKETDATA_MAX_UPLOAD_BYTES,
        )
    except FileFormatError as exc:
        report.rejected = [exc.problem]
        raise BarImportError(exc.problem.message, details=report.as_dict()) from exc


def _valid_arrays(symbol: str, parsed: ParsedBars, valid: np.ndarray) -> BarSeries:
    return BarSeries(
        symbol,
        parsed.timestamps[valid],
        parsed.open[valid],
        parsed.high[valid],
        parsed.low[valid],
        parsed.close[valid],
        parsed.volume[valid],
    )


def _write(
    report: ImportReport,
    instrument: Instrument,
    tf: Timeframe,
    bars: BarSeries,
    progress: Progress | None,
) -> None:
    with transaction.atomic():
        report.counts = bars_upsert(
            instrument_id=instrument.pk,
            timeframe=tf.value,
            bars=bars,
            batch_size=settings.MARKETDATA_IMPORT_BATCH_SIZE,
            progress=progress,
        )
        report.version = series_version_bump(instrument, tf.value, changed=report.counts.changed)
    report.first = ns_to_datetime(int(bars.timestamps[0])).isoformat()
    report.last = ns_to_datetime(int(bars.timestamps[-1])).isoformat()
    logger.info(
        "bars imported",
        extra={
            "report": {
                k: v for k, v in report.as_dict().items() if k not in ("rejected", "warnings")
            }
        },
    )


def series_version_bump(instrument: Instrument, timeframe: str, *, changed: bool) -> int:
    """Bump the series' data version when bars changed; returns the current version.

    The version is part of every cache key for this series, so bumping it in the same
    transaction as the write makes every cached copy unreachable the moment the write commits.
    An import that changed nothing keeps the version, and with it the warm cache.
    """
    row, _ = SeriesVersion.objects.get_or_create(instrument=instrument, timeframe=timeframe)
    if changed:
        SeriesVersion.objects.filter(pk=row.pk).update(
            version=F("version") + 1, updated_at=timezone.now()
        )
        row.refresh_from_db(fields=["version"])
    return row.version


def bars_fetch(
    *,
    instrument: Instrument,
    provider: BarProvider,
    start: date,
    end: date,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Fetch daily bars for [start, end] from `provider` and import them like an uploaded file.

    Raises ProviderError subclasses (transient failures after retries, bad payloads, open
    breaker) and BarImportError when the provider's data breaks the import rules.
    """
    payload = provider.daily_bars_csv(_provider_symbol(instrument), start, end)
    # The provider's dates are exchange session dates already: read them as such.
    return bars_import(
        instrument=instrument,
        source=payload,
        timeframe=Timeframe.D1,
        skip_invalid=skip_invalid,
        progress=progress,
    )


def _provider_symbol(instrument: Instrument) -> str:
    # Stooq lists US listings as "aapl.us"; other exchanges keep their own suffix in our symbol.
    symbol = instrument.symbol
    if "." not in symbol and instrument.exchange.upper() in {"", "NASDAQ", "NYSE", "AMEX", "ARCA"}:
        return f"{symbol}.US"
    return symbol


DEMO_DATA_DIR = Path(__file__).resolve().parent / "demo_data"
DEMO_INSTRUMENTS = {
    "AAPL": {"name": "Apple Inc.", "exchange": "NASDAQ"},
    "GOOG": {"name": "Google Inc. (pre-2014 class A, WIKI/GOOGL)", "exchange": "NASDAQ"},
    "IBM": {"name": "International Business Machines Corp.", "exchange": "NYSE"},
    "MSFT": {"name": "Microsoft Corp.", "exchange": "NASDAQ"},
}


def demo_marketdata_load(*, progress: Progress | None = None) -> list[ImportReport]:
    """Import the bundled real daily bars (docs/data.md) through the normal import; idempotent.

    Prices are split- and dividend-adjusted (the files' Adj Close), so a backtest does not see
    a stock split as a crash. Each import is an upsert: loading twice changes nothing.
    """
    reports = []
    for symbol, meta in DEMO_INSTRUMENTS.items():
        instrument, _ = instrument_ensure(
            symbol=symbol,
            asset_class=AssetClass.EQUITY,
            currency="USD",
            timezone="America/New_York",
            **meta,
        )
        with (DEMO_DATA_DIR / f"{symbol}.csv.gz").open("rb") as handle:
            reports.append(
                bars_import(
                    instrument=instrument,
                    source=handle,
                    timeframe=Timeframe.D1,
                    use_adj_close=True,
                    progress=progress,
                )
            )
    return reports
