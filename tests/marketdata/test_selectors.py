"""Loading bars into arrays, the version-keyed cache, and its invalidation on import."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime

import numpy as np
import pytest

from backtesting.engine import BarSeries
from backtesting.engine.barcodec import decode_bars, encode_bars, fingerprint_bars
from backtesting.engine.bars import FIELDS
from backtesting.marketdata import selectors
from backtesting.marketdata.selectors import bars_load_arrays
from backtesting.marketdata.services import bars_import
from tests.factories import InstrumentFactory
from tests.marketdata.conftest import GOOD_ROWS, make_csv
from tradeplatform.errors import NotFoundError

pytestmark = pytest.mark.django_db


def test_bars_load_as_arrays_shaped_for_the_engine(imported):
    bars = bars_load_arrays("aapl", "1d")
    assert bars.timestamps.dtype == np.int64
    assert bars.close.dtype == np.float64
    assert bars.close.tolist() == [104, 102, 101, 107, 108]
    assert bars.timestamps[0] == int(datetime(2024, 1, 2, tzinfo=UTC).timestamp()) * 10**9
    series = bars
    assert len(series) == 5


def test_a_range_is_inclusive_at_both_ends(imported):
    bars = bars_load_arrays(
        "AAPL", "1d", datetime(2024, 1, 3, tzinfo=UTC), datetime(2024, 1, 5, tzinfo=UTC)
    )
    assert bars.close.tolist() == [102, 101, 107]


def test_the_second_load_comes_from_the_cache(imported, django_assert_num_queries):
    bars_load_arrays("AAPL", "1d")
    with django_assert_num_queries(2):  # the instrument and its versions; no bar query
        again = bars_load_arrays("AAPL", "1d")
    assert again.close.tolist() == [104, 102, 101, 107, 108]


def test_an_import_that_changes_bars_makes_the_cached_series_unreachable(instrument, imported):
    assert bars_load_arrays("AAPL", "1d").close[-1] == 108
    bars_import(
        instrument=instrument,
        source=make_csv([*GOOD_ROWS[:4], "2024-01-08,107,109,106,109,1200"]),
        timeframe="1d",
    )
    assert bars_load_arrays("AAPL", "1d").close[-1] == 109


def test_a_coarser_timeframe_is_resampled_from_stored_bars(imported):
    weeks = bars_load_arrays("AAPL", "1w")
    assert weeks.timestamps.tolist() == [
        int(datetime(2024, 1, d, tzinfo=UTC).timestamp()) * 10**9 for d in (1, 8)
    ]
    assert weeks.open.tolist() == [100, 107]
    assert weeks.high.tolist() == [108, 109]
    assert weeks.volume.tolist() == [4500, 1200]


def test_unknown_symbols_raise_not_found_and_empty_series_are_empty(instrument):
    with pytest.raises(NotFoundError):
        bars_load_arrays("NOPE", "1d")
    assert len(bars_load_arrays("AAPL", "1d")) == 0


def test_cache_bytes_round_trip_exactly():
    bars = BarSeries(
        "X", np.array([1, 2], dtype=np.int64), *(np.array([1.5, 2.25]) for _ in range(5))
    )
    back = decode_bars(encode_bars("1d", {"X": bars}))[1]["X"]
    assert back.timestamps.tolist() == [1, 2]
    assert back.volume.tolist() == [1.5, 2.25]


def test_with_the_cache_down_bars_come_from_the_database_with_one_warning(
    imported, request, caplog, settings
):
    settings.MARKETDATA_LOCAL_CACHE_BYTES = 0  # a process holding no copy of its own
    stored, resampled = bars_load_arrays("AAPL", "1d"), bars_load_arrays("AAPL", "1w")
    request.getfixturevalue("cache_down")
    with caplog.at_level(logging.WARNING, logger="tradeplatform.soft_cache"):
        again = [bars_load_arrays("AAPL", "1d"), bars_load_arrays("AAPL", "1w")]
        again.append(bars_load_arrays("AAPL", "1d"))

    for expected, got in zip([stored, resampled, stored], again, strict=True):
        assert got.timestamps.tolist() == expected.timestamps.tolist()
        for name in FIELDS:
            assert getattr(got, name).tolist() == getattr(expected, name).tolist()
    warnings = [r for r in caplog.records if r.name == "tradeplatform.soft_cache"]
    # One warning for the outage, not one per read and write of each series.
    assert [r.getMessage() for r in warnings] == ["cache unavailable; going without it"]
    assert warnings[0].levelno == logging.WARNING


def test_a_process_reads_a_series_it_holds_without_a_cache_round_trip(imported, monkeypatch):
    first = bars_load_arrays("AAPL", "1d")
    reads: list[str] = []
    monkeypatch.setattr(selectors, "soft_get", lambda key: reads.append(key))
    again = bars_load_arrays("AAPL", "1d")
    assert reads == [] and again.close.tolist() == first.close.tolist()
    # Read-only: no caller can change what the next one reads.
    with pytest.raises(ValueError, match="read-only"):
        again.close[0] = 1.0


def test_a_process_keeps_at_most_its_budget_of_bars(imported, settings):
    one = bars_load_arrays("AAPL", "1d")
    size = sum(getattr(one, name).nbytes for name in ("timestamps", *FIELDS))
    settings.MARKETDATA_LOCAL_CACHE_BYTES = size  # room for one series
    bars_load_arrays("AAPL", "1w")  # the newest stays, the oldest goes
    held = selectors._local_bars
    assert held._bytes <= size and len(held._entries) == 1


def test_the_cache_holds_the_bar_codec_bytes_the_fingerprint_hashes(imported, monkeypatch):
    stored = []
    real_set = selectors.soft_set
    monkeypatch.setattr(
        selectors, "soft_set", lambda k, v, **kw: (stored.append(v), real_set(k, v, **kw))
    )
    bars = bars_load_arrays("AAPL", "1w")
    assert len(stored) == 1
    timeframe, decoded = decode_bars(stored[0])
    assert timeframe == "1w" and list(decoded) == ["AAPL"]
    for name in ("timestamps", *FIELDS):
        assert getattr(decoded["AAPL"], name).tobytes() == getattr(bars, name).tobytes()
    assert hashlib.sha256(stored[0]).hexdigest() == fingerprint_bars("1w", {"AAPL": bars})


@pytest.mark.parametrize(
    "entry",
    [
        b"TPBA\x01\x00" + bytes(56),  # the old version-1 layout
        b"garbage",
        encode_bars("1d", {}),  # readable, but not this series
    ],
)
def test_an_unreadable_cache_entry_is_a_miss_not_an_error(
    imported, monkeypatch, caplog, entry, settings
):
    settings.MARKETDATA_LOCAL_CACHE_BYTES = 0  # a process holding no copy of its own
    expected = bars_load_arrays("AAPL", "1d")
    monkeypatch.setattr(selectors, "soft_get", lambda key: entry)
    with caplog.at_level(logging.WARNING, logger="backtesting.marketdata.selectors"):
        again = bars_load_arrays("AAPL", "1d")
    assert again.close.tolist() == expected.close.tolist() == [104, 102, 101, 107, 108]
    assert "unreadable cached bars" in caplog.text


@pytest.mark.parametrize("timeframe", ["1d", "1w", "1h"])
def test_series_sources_serve_what_series_coverage_serves_in_one_query(
    imported, django_assert_num_queries, timeframe
):
    with django_assert_num_queries(1):
        sources = selectors.series_sources(symbols=["AAPL", "NOPE"], timeframe=timeframe)
    coverage = selectors.series_coverage(
        symbols=["AAPL", "NOPE"],
        timeframe=timeframe,
        start=datetime(2000, 1, 1, tzinfo=UTC),
        end=datetime(2100, 1, 1, tzinfo=UTC),
    )
    assert list(sources) == list(coverage) == ["AAPL"]  # unknown symbols are absent
    served, covered = sources["AAPL"], coverage["AAPL"]
    assert (served.instrument_id, served.source, served.version) == (
        covered.instrument_id, covered.source, covered.series_version)  # fmt: skip


def test_series_coverage_answers_instrument_version_and_bars_in_range_in_two_queries(
    imported, django_assert_num_queries
):
    # The serving series, then one aggregate over its bars in range: never a bar loaded.
    with django_assert_num_queries(2):
        coverage = selectors.series_coverage(
            symbols=["AAPL", "NOPE"],
            timeframe="1d",
            start=datetime(2024, 1, 3, tzinfo=UTC),
            end=datetime(2024, 1, 5, tzinfo=UTC),
        )
    assert list(coverage) == ["AAPL"]  # unknown symbols are absent
    aapl = coverage["AAPL"]
    assert (aapl.source, aapl.series_version, aapl.bar_count) == ("1d", 1, 3)
    assert (aapl.first, aapl.last) == (
        datetime(2024, 1, 3, tzinfo=UTC),
        datetime(2024, 1, 5, tzinfo=UTC),
    )
    assert aapl.has_data


def test_series_coverage_counts_each_symbol_on_its_own_serving_series(imported):
    # MSFT stores daily and hourly bars: a daily request is served by its daily series, an
    # hourly one by its hourly series; AAPL (daily only) cannot serve hours. Each count is of
    # its own instrument and series only.
    msft = InstrumentFactory(symbol="MSFT", timezone="UTC")
    bars_import(instrument=msft, source=make_csv(GOOD_ROWS[:2]), timeframe="1d")
    hours = ["2024-01-03 10:00,1,1,1,1,1", "2024-01-03 11:00,1,1,1,1,1",
             "2024-01-03 12:00,1,1,1,1,1"]  # fmt: skip
    bars_import(instrument=msft, source=make_csv(hours), timeframe="1h")
    span = {"start": datetime(2024, 1, 1, tzinfo=UTC), "end": datetime(2024, 1, 31, tzinfo=UTC)}
    daily = selectors.series_coverage(symbols=["AAPL", "MSFT", "NOPE"], timeframe="1d", **span)
    assert {s: (c.source, c.bar_count) for s, c in daily.items()} == {
        "AAPL": ("1d", 5), "MSFT": ("1d", 2)}  # fmt: skip
    assert daily["MSFT"].first == datetime(2024, 1, 2, tzinfo=UTC)
    assert daily["MSFT"].last == datetime(2024, 1, 3, tzinfo=UTC)
    hourly = selectors.series_coverage(symbols=["AAPL", "MSFT"], timeframe="1h", **span)
    assert {s: (c.source, c.bar_count, c.has_data) for s, c in hourly.items()} == {
        "AAPL": (None, 0, False), "MSFT": ("1h", 3, True)}  # fmt: skip
    assert hourly["MSFT"].last == datetime(2024, 1, 3, 12, tzinfo=UTC)


def test_series_coverage_of_a_resampled_timeframe_counts_the_stored_base_bars(imported):
    coverage = selectors.series_coverage(
        symbols=["AAPL"],
        timeframe="1w",
        start=datetime(2024, 1, 1, tzinfo=UTC),
        end=datetime(2024, 1, 31, tzinfo=UTC),
    )["AAPL"]
    # Five stored daily bars serve the weekly request (resampled into two weeks on load).
    assert (coverage.source, coverage.series_version, coverage.bar_count) == ("1d", 1, 5)


def test_series_coverage_without_bars_in_range_or_without_a_series_has_no_data(
    instrument, imported
):
    later = selectors.series_coverage(
        symbols=["AAPL"],
        timeframe="1d",
        start=datetime(2030, 1, 1, tzinfo=UTC),
        end=datetime(2030, 12, 31, tzinfo=UTC),
    )["AAPL"]
    assert (later.series_version, later.bar_count, later.first, later.has_data) == (
        1,
        0,
        None,
        False,
    )
    # Minutes cannot be resampled from days: no serving series at all.
    minutes = selectors.series_coverage(
        symbols=["AAPL"],
        timeframe="1m",
        start=datetime(2024, 1, 1, tzinfo=UTC),
        end=datetime(2024, 1, 31, tzinfo=UTC),
    )["AAPL"]
    assert (minutes.source, minutes.series_version, minutes.has_data) == (None, None, False)


def test_bars_snapshot_gives_the_bars_with_the_version_they_were_read_at(imported):
    snapshot = selectors.bars_snapshot(
        symbols=["AAPL"],
        timeframe="1d",
        start=datetime(2024, 1, 1, tzinfo=UTC),
        end=datetime(2024, 1, 31, tzinfo=UTC),
    )
    assert snapshot.versions == {"AAPL": 1}
    assert snapshot.bars["AAPL"].close.tolist() == [104, 102, 101, 107, 108]
    with pytest.raises(NotFoundError):
        selectors.bars_snapshot(
            symbols=["AAPL", "NOPE"],
            timeframe="1d",
            start=datetime(2024, 1, 1, tzinfo=UTC),
            end=datetime(2024, 1, 31, tzinfo=UTC),
        )
