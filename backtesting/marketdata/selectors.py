"""Reading bars out: straight into NumPy arrays, through a version-keyed cache.

On PostgreSQL the range is streamed with a binary COPY and decoded by NumPy in one pass: no
Python object per row. Elsewhere a values_list feeds np.fromiter. Either way the result is
cached in the engine's bar codec (backtesting.engine.barcodec) under a key that contains the
series' data version, which every import that changes bars bumps, so a cached series can never
be stale. The cache is only an accelerator: when it cannot be reached, or holds an entry this
code cannot read, bars come from the database (tradeplatform.soft_cache).

`series_coverage` answers "which instrument, which series version, how many bars in range" in
two plain queries without loading a bar (submit validation). `bars_snapshot` (the worker)
reads the versions with `series_sources`, one plain join, and each version's bars from this
process's memory or the shared cache; only when some must come from the database does it read
versions and bars again in one database snapshot, so a series version always describes exactly
the bars that were read and fingerprinted.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Min, OuterRef, Q, Subquery

from backtesting.engine import BarSeries, EngineError
from backtesting.engine.barcodec import BarCodecError, decode_bars, encode_bars
from backtesting.engine.bars import FIELDS
from backtesting.marketdata.arrays import empty_series, series_slice
from backtesting.marketdata.chartdata import Candles, Gap, candles_bucket, gaps_find
from backtesting.marketdata.models import AssetClass, Bar, Instrument, SeriesVersion
from backtesting.marketdata.resampling import resample
from backtesting.marketdata.timeframes import Timeframe
from backtesting.marketdata.writes import datetime_to_ns, ns_to_datetime
from tradeplatform.errors import NotFoundError
from tradeplatform.soft_cache import soft_get, soft_set

logger = logging.getLogger(__name__)

# PostgreSQL's binary timestamptz is microseconds since 2000-01-01 UTC.
_PG_EPOCH_US = 946_684_800 * 1_000_000
# One binary COPY row: field count, then (length, value) for 6 fixed-width NOT NULL columns.
_PG_ROW = np.dtype(
    [("n", ">i2")]
    + [
        item
        for i in range(6)
        for item in ((f"len{i}", ">i4"), (f"v{i}", ">i8" if i == 0 else ">f8"))
    ]
)
_PG_HEADER_SIZE = 19  # 11-byte signature + flags + header-extension length


def instrument_get(symbol: str) -> Instrument:
    try:
        return Instrument.objects.get(symbol=symbol.strip().upper())
    except Instrument.DoesNotExist:
        raise NotFoundError(f"No instrument {symbol.upper()!r}.") from None


def series_source(instrument: Instrument, timeframe: Timeframe) -> tuple[Timeframe, int] | None:
    """The stored timeframe serving `timeframe` (itself or the coarsest finer one), its version."""
    versions = dict(
        SeriesVersion.objects.filter(instrument=instrument).values_list("timeframe", "version")
    )
    for candidate in (timeframe, *timeframe.finer()):
        if candidate.value in versions:
            return candidate, versions[candidate.value]
    return None


def data_availability() -> dict[str, dict[str, tuple[datetime, datetime]]]:
    """{symbol: {timeframe: (first, last)}} of every active instrument with bars.

    A timeframe is listed when series_source would find a series for it: stored itself, or
    resampled from a finer stored one (the coarsest, as series_source picks it), whose first
    and last bar bound it. Symbols in order; two index seeks per stored series, no bar loaded.
    """
    bars = Bar.objects.filter(instrument=OuterRef("instrument"), timeframe=OuterRef("timeframe"))
    rows = (
        SeriesVersion.objects.filter(instrument__in=Instrument.objects.active())
        .annotate(
            first=Subquery(bars.order_by("timestamp").values("timestamp")[:1]),
            last=Subquery(bars.order_by("-timestamp").values("timestamp")[:1]),
        )
        .order_by("instrument__symbol")
        .values_list("instrument__symbol", "timeframe", "first", "last")
    )
    stored: dict[str, dict[Timeframe, tuple[datetime, datetime]]] = {}
    for symbol, timeframe, first, last in rows:
        if first is not None and last is not None:  # a version whose bars were all deleted
            stored.setdefault(symbol, {})[Timeframe(timeframe)] = (first, last)
    return {symbol: _served_spans(series) for symbol, series in stored.items()}


def _served_spans(
    stored: dict[Timeframe, tuple[datetime, datetime]],
) -> dict[str, tuple[datetime, datetime]]:
    served = {}
    for tf in Timeframe:
        source = next((c for c in (tf, *tf.finer()) if c in stored), None)
        if source is not None:
            served[tf.value] = stored[source]
    return served


def bars_load_arrays(
    symbol: str,
    timeframe: Timeframe | str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> BarSeries:
    """Bars of `symbol` with start <= timestamp <= end (either bound optional) as arrays.

    A timeframe that is not stored is resampled from the coarsest finer one that is. Raises
    NotFoundError for an unknown symbol; an instrument without bars gives empty arrays.
    """
    instrument = instrument_get(symbol)
    tf = Timeframe(timeframe)
    with read_snapshot():  # else new bars could be cached under the old version's key
        source = series_source(instrument, tf)
        if source is None:
            return empty_series(instrument.symbol)
        return _bars_load_version(instrument, source, tf, start, end)


def _bars_load_version(
    instrument: Instrument,
    source: tuple[Timeframe, int],
    tf: Timeframe,
    start: datetime | None,
    end: datetime | None,
) -> BarSeries:
    """Bars of the stored series `source` = (timeframe, version), resampled to `tf`, cached."""
    source_tf, version = source
    key = _cache_key(instrument.pk, source_tf, version, tf, start, end)
    cached = _cached_bars(key, instrument.symbol, tf)
    if cached is not None:
        return cached
    bars = _load_from_database(instrument, source_tf, start, end)
    if source_tf is not tf:
        bars = resample(bars, source_tf, tf, instrument.timezone)
    _cache_store(key, bars, tf)
    return _local_bars.put(key, bars)


def _cached_bars(key: str, symbol: str, tf: Timeframe) -> BarSeries | None:
    """The series under `key` from this process's memory, else the shared cache, else None."""
    bars = _local_bars.get(key)
    if bars is None:
        bars = _cache_read(key, symbol, tf)
        if bars is not None:
            bars = _local_bars.put(key, bars)
    return bars


class _LocalBars:
    """The most recently used series of this process, up to `max_bytes` of arrays.

    Keys hold the series' data version, so an entry is never stale: a worker running the same
    data again (a burst, a sweep) skips the shared cache's round trip and the decoding. Arrays
    are made read-only, so no caller can change what the next one reads.
    """

    def __init__(self) -> None:
        self._entries: OrderedDict[str, BarSeries] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> BarSeries | None:
        with self._lock:
            bars = self._entries.get(key)
            if bars is not None:
                self._entries.move_to_end(key)
            return bars

    def put(self, key: str, bars: BarSeries) -> BarSeries:
        size = _nbytes(bars)
        limit = settings.MARKETDATA_LOCAL_CACHE_BYTES
        if size > limit:
            return bars
        for name in ("timestamps", *FIELDS):
            getattr(bars, name).setflags(write=False)
        with self._lock:
            if key not in self._entries:
                self._entries[key] = bars
                self._bytes += size
            while self._bytes > limit:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= _nbytes(dropped)
            return self._entries.get(key, bars)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


def _nbytes(bars: BarSeries) -> int:
    return sum(getattr(bars, name).nbytes for name in ("timestamps", *FIELDS))


_local_bars = _LocalBars()


def bars_local_cache_clear() -> None:
    """Forget every series this process keeps in memory (tests: ids and versions repeat)."""
    _local_bars.clear()


@dataclass(frozen=True)
class Coverage:
    """What market data holds for one symbol in a range, read without loading a bar.

    `source` is the stored timeframe serving the request (the requested one, or the coarsest
    finer one it is resampled from) and `series_version` its data version; both are None when
    no such series is stored. `bar_count`, `first` and `last` describe the stored `source` bars
    with start <= timestamp <= end. "Has data" means at least one such bar: resampling one or
    more stored bars always gives at least one bar, so counting on the stored base timeframe
    answers the question for resampled timeframes too.
    """

    instrument_id: int
    symbol: str
    timezone: str
    source: Timeframe | None
    series_version: int | None
    bar_count: int
    first: datetime | None
    last: datetime | None

    @property
    def has_data(self) -> bool:
        return self.bar_count > 0


@dataclass(frozen=True)
class SeriesSource:
    """The stored series serving one symbol at a timeframe and its data version (both None
    when no such series is stored): all a load needs, as `series_sources` reads it."""

    instrument_id: int
    symbol: str
    timezone: str
    source: Timeframe | None
    version: int | None


def series_sources(*, symbols: list[str], timeframe: Timeframe | str) -> dict[str, SeriesSource]:
    """{symbol: SeriesSource} of the known `symbols`, in one plain join that counts no bar.

    The same choice as series_coverage: the requested timeframe if stored, else the coarsest
    finer one.
    """
    tf = Timeframe(timeframe)
    rank = {c.value: i for i, c in enumerate([tf, *tf.finer()])}
    rows = Instrument.objects.filter(symbol__in=symbols).values_list(
        "pk", "symbol", "timezone", "versions__timeframe", "versions__version"
    )
    best: dict[str, tuple[int, SeriesSource]] = {}
    for pk, symbol, tz, stored_tf, version in rows:
        order = rank.get(stored_tf, len(rank))
        if symbol not in best or order < best[symbol][0]:
            served = order < len(rank)
            source = SeriesSource(pk, symbol, tz, Timeframe(stored_tf) if served else None,
                                  version if served else None)  # fmt: skip
            best[symbol] = (order, source)
    return {symbol: source for symbol, (_, source) in best.items()}


def series_coverage(
    *, symbols: list[str], timeframe: Timeframe | str, start: datetime, end: datetime
) -> dict[str, Coverage]:
    """{symbol: Coverage} of the known `symbols` (unknown ones are absent), in two plain queries.

    `series_sources` picks each symbol's serving series, then one grouped aggregate counts
    their bars in range. One query can do both, but only with the serving series' choice
    repeated as a correlated subquery in every column: compiling that cost every submit about
    9 ms of CPU, against a fraction of a millisecond for the second round trip.
    """
    sources = series_sources(symbols=symbols, timeframe=timeframe)
    served = Q()
    for source in sources.values():
        if source.source is not None:
            served |= Q(instrument_id=source.instrument_id, timeframe=source.source.value)
    in_range: dict[int, tuple[int, datetime | None, datetime | None]] = {}
    if served:
        rows = (
            Bar.objects.filter(served, timestamp__gte=start, timestamp__lte=end)
            .values("instrument_id")
            .annotate(n=Count("pk"), first=Min("timestamp"), last=Max("timestamp"))
            .order_by()
            .values_list("instrument_id", "n", "first", "last")
        )
        in_range = {pk: (n, first, last) for pk, n, first, last in rows}
    out = {}
    for symbol, s in sources.items():
        n, first, last = in_range.get(s.instrument_id, (0, None, None))
        out[symbol] = Coverage(
            s.instrument_id, symbol, s.timezone, s.source, s.version, n, first, last
        )
    return out


def coverage_versions(coverage: dict[str, Coverage]) -> dict[str, int]:
    """{symbol: series version} of the symbols that have a stored series (the provenance map)."""
    return {s: c.series_version for s, c in coverage.items() if c.series_version is not None}


@dataclass(frozen=True)
class BarsSnapshot:
    """Bars and the series versions they are (`{symbol: version}`, symbols with a series)."""

    versions: dict[str, int]
    bars: dict[str, BarSeries]


def bars_snapshot(
    *, symbols: list[str], timeframe: Timeframe | str, start: datetime, end: datetime
) -> BarsSnapshot:
    """{symbol: BarSeries} in the order given, with the series versions they were read at.

    Raises NotFoundError for an unknown symbol; a symbol without a stored series gets empty
    arrays (and no version).
    """
    tf = Timeframe(timeframe)
    # The usual case, one light query: the versions, then each version's bars from a cache. A
    # version names its bars exactly, so they agree with the versions without a snapshot.
    sources = series_sources(symbols=symbols, timeframe=tf)
    bars = _bars_cached(sources, tf, start, end)
    if bars is None:
        # Some bars come from the database: read them and their versions in one snapshot.
        with read_snapshot():
            sources = series_sources(symbols=symbols, timeframe=tf)
            bars = {s: _bars_load_served(sources[s], tf, start, end) for s in sources}
    missing = [s for s in symbols if s not in sources]
    if missing:
        raise NotFoundError(f"No instrument {missing[0].upper()!r}.")
    versions = {s: src.version for s, src in sources.items() if src.version is not None}
    return BarsSnapshot(versions, {s: bars[s] for s in symbols})


@contextmanager
def read_snapshot() -> Iterator[None]:
    """Run the reads inside on one database snapshot (a version read and its bars agree).

    PostgreSQL's default READ COMMITTED gives every statement its own snapshot, so an import
    committing between the version read and the bar read would pair an old version with new
    bars (or cache new bars under the old version's key). REPEATABLE READ gives the whole
    transaction its first statement's snapshot; SQLite's transactions are snapshots already.
    Inside an outer transaction (tests, callers' own) the level is no longer ours to set, and
    no savepoint is taken: these are reads.
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic(savepoint=False):
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def _bars_cached(
    sources: dict[str, SeriesSource], tf: Timeframe, start: datetime, end: datetime
) -> dict[str, BarSeries] | None:
    """Every known symbol's bars from a cache, or None if any is not cached."""
    bars = {}
    for symbol, served in sources.items():
        if served.source is None or served.version is None:
            bars[symbol] = empty_series(symbol)
            continue
        key = _cache_key(served.instrument_id, served.source, served.version, tf, start, end)
        cached = _cached_bars(key, symbol, tf)
        if cached is None:
            return None
        bars[symbol] = cached
    return bars


def _bars_load_served(
    served: SeriesSource, tf: Timeframe, start: datetime, end: datetime
) -> BarSeries:
    if served.source is None or served.version is None:
        return empty_series(served.symbol)
    # Only the fields the loaders use: the sources query already read them.
    instrument = Instrument(pk=served.instrument_id, symbol=served.symbol, timezone=served.timezone)
    return _bars_load_version(instrument, (served.source, served.version), tf, start, end)


def _cache_key(
    instrument_id: int,
    source: Timeframe,
    version: int,
    tf: Timeframe,
    start: datetime | None,
    end: datetime | None,
) -> str:
    lo = datetime_to_ns(start) if start else "-"
    hi = datetime_to_ns(end) if end else "-"
    # "2": the bar codec's version 2 (symbol and timeframe in the bytes) replaced version 1.
    return f"md:bars:2:{instrument_id}:{source.value}:v{version}:{tf.value}:{lo}:{hi}"


def _cache_read(key: str, symbol: str, tf: Timeframe) -> BarSeries | None:
    """The cached series, or None (a miss) when absent or unreadable: the database has it too."""
    blob = soft_get(key)
    if blob is None:
        return None
    try:
        timeframe, series = decode_bars(blob)
        if timeframe != tf.value or list(series) != [symbol]:
            raise BarCodecError(f"holds {list(series)!r} at {timeframe!r}")
        return series[symbol].to_series()
    except (BarCodecError, EngineError) as exc:
        logger.warning("unreadable cached bars; loading from the database: %s", exc)
        return None


def _cache_store(key: str, bars: BarSeries, tf: Timeframe) -> None:
    blob = encode_bars(tf.value, {bars.symbol: bars})
    if len(blob) <= settings.MARKETDATA_CACHE_MAX_BYTES:
        soft_set(key, blob, timeout=settings.MARKETDATA_CACHE_TIMEOUT)


def _load_from_database(
    instrument: Instrument,
    tf: Timeframe,
    start: datetime | None,
    end: datetime | None,
    *,
    limit: int | None = None,
) -> BarSeries:
    if connection.vendor == "postgresql":
        return _load_postgresql(instrument, tf, start, end, limit=limit)
    return _load_generic(instrument, tf, start, end, limit=limit)


def _load_postgresql(
    instrument: Instrument,
    tf: Timeframe,
    start: datetime | None,
    end: datetime | None,
    *,
    limit: int | None = None,
) -> BarSeries:
    from psycopg import sql

    query = sql.SQL(
        'COPY (SELECT "timestamp", open, high, low, close, volume FROM marketdata_bar'
        ' WHERE instrument_id = {} AND timeframe = {} AND "timestamp" >= {} AND "timestamp" <= {}'
        ' ORDER BY "timestamp" LIMIT {}) TO STDOUT (FORMAT BINARY)'
    ).format(
        sql.Literal(instrument.pk),
        sql.Literal(tf.value),
        sql.Literal(start or ns_to_datetime(-(2**62))),
        sql.Literal(end or ns_to_datetime(2**62)),
        sql.SQL("ALL") if limit is None else sql.Literal(int(limit)),
    )
    with connection.cursor() as cursor, cursor.cursor.copy(query) as copy:
        payload = b"".join(bytes(chunk) for chunk in copy)
    body = payload[_PG_HEADER_SIZE:-2]  # drop the header and the -1 trailer
    rows = np.frombuffer(body, dtype=_PG_ROW)
    timestamps = (rows["v0"].astype(np.int64) + _PG_EPOCH_US) * 1000
    return BarSeries(
        instrument.symbol, timestamps, *(rows[f"v{i}"].astype(np.float64) for i in range(1, 6))
    )


def _load_generic(
    instrument: Instrument,
    tf: Timeframe,
    start: datetime | None,
    end: datetime | None,
    *,
    limit: int | None = None,
) -> BarSeries:
    qs = Bar.objects.filter(instrument=instrument, timeframe=tf.value)
    if start:
        qs = qs.filter(timestamp__gte=start)
    if end:
        qs = qs.filter(timestamp__lte=end)
    rows = qs.order_by("timestamp").values_list(
        "timestamp", "open", "high", "low", "close", "volume"
    )
    if limit is not None:
        rows = rows[:limit]
    dtype = np.dtype([("t", np.int64)] + [(name, np.float64) for name in ("o", "h", "l", "c", "v")])
    table = np.fromiter(
        ((datetime_to_ns(r[0]), *r[1:]) for r in rows.iterator(chunk_size=10_000)), dtype=dtype
    )
    return BarSeries(
        instrument.symbol, table["t"], table["o"], table["h"], table["l"], table["c"], table["v"]
    )


def bars_page(
    instrument: Instrument,
    timeframe: Timeframe,
    *,
    start: datetime | None,
    end: datetime | None,
    after_ns: int | None,
    limit: int,
) -> tuple[BarSeries, int | None]:
    """Up to `limit` bars from `after_ns` (inclusive) on, and the timestamp starting the next page.

    Stored timeframes are read by an index seek + LIMIT; other timeframes are resampled (and
    cached) through bars_load_arrays and sliced.
    """
    source = series_source(instrument, timeframe)
    if source is None:
        return empty_series(instrument.symbol), None
    if source[0] is timeframe:
        lower = max(
            filter(None, [start, ns_to_datetime(after_ns) if after_ns is not None else None]),
            default=None,
        )
        # One binary COPY of the page (no per-row datetime objects): the bars API's hot path.
        bars = _load_from_database(instrument, timeframe, lower, end, limit=limit + 1)
    else:
        bars = bars_load_arrays(instrument.symbol, timeframe, start, end)
        first = 0 if after_ns is None else int(np.searchsorted(bars.timestamps, after_ns))
        bars = series_slice(bars, first, first + limit + 1)
    if len(bars) > limit:
        return series_slice(bars, 0, limit), int(bars.timestamps[limit])
    return bars, None


# --- The market-data pages for traders (/marketdata/): coverage per instrument, one chart ---


@dataclass(frozen=True)
class StoredSeries:
    """One stored (instrument, timeframe): its bars and when an import last changed it."""

    timeframe: Timeframe
    bar_count: int
    first: datetime | None
    last: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class InstrumentCoverage:
    instrument: Instrument
    stored: list[StoredSeries]
    # Timeframes served by resampling a stored finer one: {timeframe: its stored source}.
    derived: dict[Timeframe, Timeframe]

    @property
    def bar_count(self) -> int:
        return sum(s.bar_count for s in self.stored)

    @property
    def last_update(self) -> datetime | None:
        return max((s.updated_at for s in self.stored), default=None)


def servable_timeframes(stored: set[Timeframe]) -> dict[Timeframe, Timeframe]:
    """{timeframe: the stored one serving it} for every timeframe `stored` can serve, finest
    first; the same choice as series_source (itself, else the coarsest finer stored one)."""
    servable = {}
    for tf in sorted(Timeframe, key=lambda t: t.nanoseconds):
        source = next((c for c in (tf, *tf.finer()) if c in stored), None)
        if source is not None:
            servable[tf] = source
    return servable


def instruments_coverage(instruments: list[Instrument]) -> list[InstrumentCoverage]:
    """Each instrument's stored series (count, first and last bar, last update) and the
    timeframes it can serve by resampling, in ONE query whatever the number of instruments.

    The counts and ends are correlated subqueries on the bars' unique (instrument, timeframe,
    timestamp) index: first/last are index seeks, the count an index-only scan of one series.
    """
    bars = Bar.objects.filter(instrument=OuterRef("instrument"), timeframe=OuterRef("timeframe"))
    rows = (
        SeriesVersion.objects.filter(instrument__in=instruments)
        .annotate(
            bar_count=Subquery(
                bars.order_by().values("instrument").annotate(n=Count("pk")).values("n")
            ),
            first=Subquery(bars.order_by("timestamp").values("timestamp")[:1]),
            last=Subquery(bars.order_by("-timestamp").values("timestamp")[:1]),
        )
        .values_list("instrument_id", "timeframe", "bar_count", "first", "last", "updated_at")
    )
    stored: dict[int, list[StoredSeries]] = {i.pk: [] for i in instruments}
    for instrument_id, tf, n, first, last, updated_at in rows:
        stored[instrument_id].append(StoredSeries(Timeframe(tf), n or 0, first, last, updated_at))
    return [_instrument_coverage(i, stored[i.pk]) for i in instruments]


def _instrument_coverage(instrument: Instrument, stored: list[StoredSeries]) -> InstrumentCoverage:
    stored = sorted((s for s in stored if s.bar_count), key=lambda s: s.timeframe.nanoseconds)
    servable = servable_timeframes({s.timeframe for s in stored})
    derived = {tf: src for tf, src in servable.items() if tf is not src}
    return InstrumentCoverage(instrument, stored, derived)


@dataclass(frozen=True)
class InstrumentChart:
    """One instrument's bars at `timeframe` in a range, bucketed for drawing, with its gaps."""

    timeframe: Timeframe
    bars: BarSeries
    candles: Candles
    gaps: list[Gap]


def instrument_chart(
    instrument: Instrument, timeframe: Timeframe, start: datetime | None, end: datetime | None
) -> InstrumentChart:
    """Bars of `instrument` (start <= t <= end, either open) at `timeframe`, stored or resampled;
    at most MAX_CANDLES candles; gaps found on the bars themselves, not the candles."""
    bars = bars_load_arrays(instrument.symbol, timeframe, start, end)
    crypto = instrument.asset_class == AssetClass.CRYPTO
    gaps = gaps_find(bars, timeframe, instrument.timezone, crypto=crypto)
    return InstrumentChart(timeframe, bars, candles_bucket(bars), gaps)
