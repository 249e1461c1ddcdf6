"""Upserting bar arrays: COPY + INSERT ... ON CONFLICT on PostgreSQL, diff-and-batch elsewhere.

Both paths count what they did, so an import can say "inserted 10, updated 2, unchanged 990"
and bump the series version only when something really changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection

from backtesting.engine import BarSeries
from backtesting.marketdata.models import Bar

Progress = Callable[[int, int], None]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIELDS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class WriteCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.inserted or self.updated)


def ns_to_datetime(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(ns) // 1000)


def datetime_to_ns(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def bars_upsert(
    *,
    instrument_id: int,
    timeframe: str,
    bars: BarSeries,
    batch_size: int,
    progress: Progress | None,
) -> WriteCounts:
    """Insert new bars and update the ones whose values differ; call inside a transaction."""
    if len(bars) == 0:
        return WriteCounts()
    if connection.vendor == "postgresql":
        return _upsert_postgresql(instrument_id, timeframe, bars, batch_size, progress)
    return _upsert_generic(instrument_id, timeframe, bars, batch_size, progress)


def _copy_chunks(bars: BarSeries, batch_size: int) -> list[str]:
    micros = bars.timestamps // 1000
    columns = [bars.open, bars.high, bars.low, bars.close, bars.volume]
    chunks = []
    for start in range(0, len(bars), batch_size):
        stop = min(start + batch_size, len(bars))
        # repr() is the shortest text that round-trips a float64, and PostgreSQL parses it exactly.
        rows = zip(
            micros[start:stop].tolist(), *(c[start:stop].tolist() for c in columns), strict=True
        )
        chunks.append(
            "".join(f"{t}\t{o!r}\t{h!r}\t{lo!r}\t{c!r}\t{v!r}\n" for t, o, h, lo, c, v in rows)
        )
    return chunks


def _upsert_postgresql(
    instrument_id: int, timeframe: str, bars: BarSeries, batch_size: int, progress: Progress | None
) -> WriteCounts:
    total = len(bars)
    with connection.cursor() as cursor:
        # A fresh staging table per import; ON COMMIT DROP cleans it up, the DROP covers a
        # second import inside the same outer transaction (tests, load_demo_marketdata).
        cursor.execute("DROP TABLE IF EXISTS marketdata_bar_staging")
        cursor.execute(
            "CREATE TEMP TABLE marketdata_bar_staging (ts_us bigint, open float8, high float8,"
            " low float8, close float8, volume float8) ON COMMIT DROP"
        )
        done = 0
        with cursor.cursor.copy("COPY marketdata_bar_staging FROM STDIN") as copy:
            for chunk in _copy_chunks(bars, batch_size):
                copy.write(chunk)
                done = min(done + batch_size, total)
                if progress:
                    progress(done, total)
        cursor.execute(_UPSERT_SQL, [instrument_id, timeframe])
        inserted, updated = cursor.fetchone()
    return WriteCounts(inserted=inserted, updated=updated, unchanged=total - inserted - updated)


# xmax = 0 on a returned row means the row was inserted, not updated. The WHERE on DO UPDATE
# skips rows whose values are identical, so re-importing a file writes (and bloats) nothing.
_UPSERT_SQL = """
WITH written AS (
    INSERT INTO marketdata_bar
        (instrument_id, timeframe, "timestamp", open, high, low, close, volume)
    SELECT %s, %s, to_timestamp(0) + ts_us * interval '1 microsecond',
           open, high, low, close, volume
    FROM marketdata_bar_staging
    ON CONFLICT (instrument_id, timeframe, "timestamp") DO UPDATE
    SET open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low,
        close = EXCLUDED.close, volume = EXCLUDED.volume
    WHERE (marketdata_bar.open, marketdata_bar.high, marketdata_bar.low, marketdata_bar.close,
           marketdata_bar.volume)
          IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close,
                            EXCLUDED.volume)
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM written
"""


def _upsert_generic(
    instrument_id: int, timeframe: str, bars: BarSeries, batch_size: int, progress: Progress | None
) -> WriteCounts:
    total, inserted, updated = len(bars), 0, 0
    for start in range(0, total, batch_size):
        stop = min(start + batch_size, total)
        new, changed = _diff_batch(instrument_id, timeframe, bars, start, stop)
        Bar.objects.bulk_create(new, batch_size=1000)
        Bar.objects.bulk_update(changed, fields=list(_FIELDS), batch_size=1000)
        inserted, updated = inserted + len(new), updated + len(changed)
        if progress:
            progress(stop, total)
    return WriteCounts(inserted=inserted, updated=updated, unchanged=total - inserted - updated)


def _diff_batch(
    instrument_id: int, timeframe: str, bars: BarSeries, start: int, stop: int
) -> tuple[list[Bar], list[Bar]]:
    ts = bars.timestamps[start:stop]
    existing = {
        datetime_to_ns(row[1]): row
        for row in Bar.objects.filter(
            instrument_id=instrument_id,
            timeframe=timeframe,
            timestamp__gte=ns_to_datetime(int(ts[0])),
            timestamp__lte=ns_to_datetime(int(ts[-1])),
        ).values_list("pk", "timestamp", *_FIELDS)
    }
    columns = [getattr(bars, name)[start:stop].tolist() for name in _FIELDS]
    new, changed = [], []
    for i, t in enumerate(ts.tolist()):
        values = tuple(column[i] for column in columns)
        row = existing.get(t)
        if row is None:
            new.append(
                Bar(
                    instrument_id=instrument_id,
                    timeframe=timeframe,
                    timestamp=ns_to_datetime(t),
                    **dict(zip(_FIELDS, values, strict=True)),
                )
            )
        elif tuple(row[2:]) != values:
            changed.append(Bar(pk=row[0], **dict(zip(_FIELDS, values, strict=True))))
    return new, changed
