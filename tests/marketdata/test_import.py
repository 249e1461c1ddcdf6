"""The import rules: every rule with a file that breaks it, upserts, overlap, formats."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from backtesting.marketdata.errors import BarImportError
from backtesting.marketdata.models import Bar, SeriesVersion
from backtesting.marketdata.services import bars_import
from tests.marketdata.conftest import GOOD_ROWS, make_csv

pytestmark = pytest.mark.django_db


def import_rows(instrument, rows, **kwargs):
    return bars_import(instrument=instrument, source=make_csv(rows), timeframe="1d", **kwargs)


def rejected_codes(exc_info) -> list[tuple[int | None, str]]:
    return [(p["line"], p["code"]) for p in exc_info.value.details["rejected"]]


@pytest.mark.parametrize(
    ("bad_row", "code"),
    [
        ("2024-01-04,abc,103,100,101,900", "parse_error"),
        ("2024-13-45,102,103,100,101,900", "parse_error"),
        ("2024-01-04,102,103,100,,900", "parse_error"),
        ("2024-01-04,0,103,0,101,900", "nonpositive_price"),
        ("2024-01-04,-102,103,-104,101,900", "nonpositive_price"),
        ("2024-01-04,102,101,100,101,900", "ohlc_inconsistent"),  # high below open
        ("2024-01-04,102,103,101.5,101,900", "ohlc_inconsistent"),  # low above close
        ("2024-01-04,102,103,100,101,-5", "negative_volume"),
        ("2024-01-03,102,103,100,101,900", "duplicate_timestamp"),
        ("2024-01-01,102,103,100,101,900", "unsorted_timestamp"),
    ],
)
def test_a_file_breaking_a_row_rule_is_rejected_with_its_line_and_nothing_is_written(
    instrument, bad_row, code
):
    rows = [*GOOD_ROWS[:2], bad_row, *GOOD_ROWS[3:]]
    with pytest.raises(BarImportError) as exc_info:
        import_rows(instrument, rows)
    assert rejected_codes(exc_info) == [(4, code)]  # header is line 1
    assert not Bar.objects.exists()
    assert not SeriesVersion.objects.exists()


def test_a_gap_of_more_sessions_than_allowed_rejects_the_file(instrument):
    rows = [GOOD_ROWS[0], "2024-01-10,104,106,101,102,1100"]  # 5 weekdays missing (3rd..9th)
    with pytest.raises(BarImportError) as exc_info:
        import_rows(instrument, rows)
    assert rejected_codes(exc_info) == [(3, "gap")]
    assert not Bar.objects.exists()


def test_weekends_are_not_gaps_but_a_long_gap_within_intraday_session_is(instrument, csv_bytes):
    rows = [
        "2024-01-05 15:58:00,10,11,9,10,1",  # Friday
        "2024-01-08 09:30:00,10,11,9,10,1",  # Monday: overnight + weekend, fine
        "2024-01-08 10:30:00,10,11,9,10,1",  # 59 one-minute bars missing in one session
    ]
    with pytest.raises(BarImportError) as exc_info:
        bars_import(
            instrument=instrument, source=csv_bytes(rows, "Datetime,O,H,L,C,V"), timeframe="1m"
        )
    assert rejected_codes(exc_info) == [(4, "gap")]


def test_a_missing_column_rejects_the_whole_file(instrument, csv_bytes):
    with pytest.raises(BarImportError) as exc_info:
        bars_import(
            instrument=instrument,
            source=csv_bytes(GOOD_ROWS, "Date,Open,High,Close,Volume"),
            timeframe="1d",
        )
    assert rejected_codes(exc_info) == [(1, "missing_column")]
    assert not Bar.objects.exists()


def test_an_empty_file_is_rejected(instrument):
    with pytest.raises(BarImportError) as exc_info:
        import_rows(instrument, [])
    assert rejected_codes(exc_info) == [(None, "empty_file")]


def test_skip_invalid_writes_the_valid_rows_and_reports_every_rejected_one(instrument):
    rows = [
        GOOD_ROWS[0],
        "2024-01-03,x,1,1,1,1",
        GOOD_ROWS[2],
        "2024-01-04,1,0.5,1,1,1",
        GOOD_ROWS[4],
    ]
    report = import_rows(instrument, rows, skip_invalid=True)
    assert [(p.line, p.code) for p in report.rejected] == [
        (3, "parse_error"),
        (5, "ohlc_inconsistent"),
    ]
    assert report.rows_read == 5
    assert report.counts.inserted == 3
    assert Bar.objects.count() == 3


def test_reimporting_the_same_file_changes_nothing(instrument):
    first = import_rows(instrument, GOOD_ROWS)
    before = list(Bar.objects.order_by("timestamp").values_list("pk", "open", "close"))
    again = import_rows(instrument, GOOD_ROWS)
    assert (first.counts.inserted, again.counts.inserted, again.counts.updated) == (5, 0, 0)
    assert again.counts.unchanged == 5
    assert again.version == first.version == 1
    assert list(Bar.objects.order_by("timestamp").values_list("pk", "open", "close")) == before


def test_an_overlapping_file_inserts_new_bars_and_updates_only_those_that_differ(instrument):
    import_rows(instrument, GOOD_ROWS[:3])
    overlap = [GOOD_ROWS[1], "2024-01-04,102,103,100,101.5,900", *GOOD_ROWS[3:]]
    report = import_rows(instrument, overlap)
    assert (report.counts.inserted, report.counts.updated, report.counts.unchanged) == (2, 1, 1)
    assert report.version == 2
    jan4 = Bar.objects.get(timestamp=datetime(2024, 1, 4, tzinfo=UTC))
    assert jan4.close == 101.5
    assert Bar.objects.count() == 5


@pytest.mark.parametrize(
    ("header", "stamp"),
    [
        (
            "Timestamp,open,HIGH,low,Close,volume",
            "1704207600",
        ),  # unix seconds (15:00 UTC = 10:00 in New York)
        ("timestamp,o,h,l,c,v", "1704207600000"),  # unix milliseconds
        ("DATE,Open,High,Low,Close,Vol", "20240102"),
        ("Datetime,Open,High,Low,Close,Volume", "2024-01-02T10:00:00-05:00"),
    ],
)
def test_common_layouts_are_recognised(instrument, csv_bytes, header, stamp):
    report = bars_import(
        instrument=instrument, source=csv_bytes([f"{stamp},1,2,0.5,1.5,10"], header), timeframe="1d"
    )
    assert report.counts.inserted == 1
    assert Bar.objects.get().timestamp == datetime(2024, 1, 2, tzinfo=UTC)


def test_a_pandas_file_with_an_unnamed_date_index_is_imported(instrument, csv_bytes):
    # `df.to_csv()` of a frame indexed by date writes an empty first header cell.
    source = csv_bytes(
        ["2024-01-02,1,2,0.5,1.5,10", "2024-01-03,1.5,2,1,1.8,12"], ",Open,High,Low,Close,Volume"
    )

    report = bars_import(instrument=instrument, source=source, timeframe="1d")

    assert report.counts.inserted == 2
    assert list(Bar.objects.values_list("timestamp", "close").order_by("timestamp")) == [
        (datetime(2024, 1, 2, tzinfo=UTC), 1.5),
        (datetime(2024, 1, 3, tzinfo=UTC), 1.8),
    ]


def test_an_unnamed_first_column_that_is_not_a_time_is_still_refused(instrument, csv_bytes):
    source = csv_bytes(["row-1,1,2,0.5,1.5,10"], ",Open,High,Low,Close,Volume")

    with pytest.raises(BarImportError) as exc_info:
        bars_import(instrument=instrument, source=source, timeframe="1d")

    assert "date/datetime/timestamp" in str(exc_info.value)
    assert not Bar.objects.exists()


def test_gzip_files_and_adjusted_close_are_supported(instrument, csv_bytes):
    rows = ["2024-01-02,100,110,90,100,2.5,1000"]
    source = csv_bytes(rows, "Date,Open,High,Low,Close,Adj Close,Volume", gz=True)
    bars_import(instrument=instrument, source=source, timeframe="1d", use_adj_close=True)
    bar = Bar.objects.get()
    assert (bar.open, bar.high, bar.low, bar.close) == (2.5, 2.75, 2.25, 2.5)


def test_a_gzip_inflating_past_the_upload_cap_is_refused_whole(instrument, settings):
    # A compressed file under the cap that inflates far past it: the cap bounds the text too.
    settings.MARKETDATA_MAX_UPLOAD_BYTES = 64 * 1024
    bomb = make_csv(GOOD_ROWS + ["2024-01-08,101,108,100.5,107,1500"] * 5000, gz=True)
    assert len(bomb) < settings.MARKETDATA_MAX_UPLOAD_BYTES

    with pytest.raises(BarImportError) as exc_info:
        bars_import(instrument=instrument, source=bomb, timeframe="1d")

    assert rejected_codes(exc_info) == [(None, "too_large")]
    assert "0.0625 MiB of CSV text" in str(exc_info.value)
    assert not Bar.objects.exists()
    # The same rows under the cap are read (and judged on their merits, not refused as too big).
    settings.MARKETDATA_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
    with pytest.raises(BarImportError) as exc_info:
        bars_import(instrument=instrument, source=bomb, timeframe="1d")
    assert "too_large" not in [code for _, code in rejected_codes(exc_info)]


def test_adjusted_prices_without_an_adj_close_column_are_refused(instrument):
    with pytest.raises(BarImportError) as exc_info:
        import_rows(instrument, GOOD_ROWS, use_adj_close=True)
    assert rejected_codes(exc_info) == [(1, "missing_column")]


def test_naive_intraday_times_are_read_in_the_given_zone(instrument, csv_bytes):
    rows = ["2024-01-02 09:30,1,2,0.5,1.5,10"]
    bars_import(
        instrument=instrument,
        source=csv_bytes(rows, "Datetime,O,H,L,C,V"),
        timeframe="1m",
        tz_name="America/New_York",
    )
    assert Bar.objects.get().timestamp == datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


def test_import_bars_command_creates_the_instrument_and_reports(tmp_path: Path, capsys):
    path = tmp_path / "msft.csv.gz"
    path.write_bytes(make_csv(GOOD_ROWS, gz=True))
    call_command("import_bars", "msft", str(path), "--timeframe", "1d")
    assert "inserted 5" in capsys.readouterr().out
    assert Bar.objects.filter(instrument__symbol="MSFT").count() == 5


def test_import_bars_command_fails_on_an_invalid_file_and_lists_the_lines(tmp_path: Path, capsys):
    path = tmp_path / "bad.csv"
    path.write_bytes(make_csv([GOOD_ROWS[0], "2024-01-03,1,0.5,1,1,1"]))
    with pytest.raises(CommandError, match="1 problem"):
        call_command("import_bars", "MSFT", str(path))
    assert "line 3: ohlc_inconsistent" in capsys.readouterr().err
    assert not Bar.objects.exists()
