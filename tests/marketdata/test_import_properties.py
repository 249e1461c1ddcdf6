"""Random malformed bar files (hypothesis) against stored data: a clear error, and the stored
rows and series version exactly as before; or, skipping invalid rows, only valid rows written.

Each file starts as a valid daily series overlapping and extending what is stored, then gets
one to three defects: a bad encoding, a missing column, NaN or an empty cell, a duplicated or
an out-of-order timestamp, a huge or infinite value, a NUL byte, a high below the low, a
ragged row, or a gzip stream cut short. Every defect breaks the file, so without
skip_invalid the import must refuse it whole.
"""

from __future__ import annotations

import gzip
import math
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtesting.marketdata.errors import BarImportError
from backtesting.marketdata.models import AssetClass, Bar, SeriesVersion
from backtesting.marketdata.services import bars_import
from tests.factories import InstrumentFactory

pytestmark = pytest.mark.django_db

HEADER = ["Date", "Open", "High", "Low", "Close", "Volume"]
FIRST_DAY = date(2024, 1, 1)
STORED_DAYS = 8  # the stored series; each generated file overlaps it and runs past its end
DEFECTS = (
    "bad_encoding",
    "missing_column",
    "nan",
    "empty_cell",
    "duplicate_timestamp",
    "unsorted",
    "huge_value",
    "infinite_value",
    "nul_byte",
    "high_below_low",
    "ragged_row",
    "truncated_gzip",
)


def _rows(first: int, count: int, scale: float) -> list[list[str]]:
    rows = []
    for i in range(first, first + count):
        price = scale * (100 + i)
        day = (FIRST_DAY + timedelta(days=i)).isoformat()
        rows.append([day, *(f"{price * f:.4f}" for f in (1.0, 1.02, 0.98, 1.01)), "1000"])
    return rows


@st.composite
def malformed_files(draw: Any) -> bytes:
    rows = _rows(
        draw(st.integers(0, STORED_DAYS)), draw(st.integers(3, 12)), draw(st.floats(0.5, 2))
    )
    table = [list(HEADER), *rows]
    defects = draw(st.lists(st.sampled_from(DEFECTS), min_size=1, max_size=3, unique=True))
    gzip_cut = "truncated_gzip" in defects
    for defect in defects:
        if defect != "truncated_gzip":
            _apply(defect, table, draw)
    lines = [",".join(row) for row in table]
    body = "\n".join(lines).encode("utf-8", "surrogatepass") + b"\n"
    if "bad_encoding" in defects:
        at = draw(st.integers(len(lines[0]) + 1, len(body) - 1))
        body = (
            body[:at] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80"])) + body[at:]
        )
    if gzip_cut:
        packed = gzip.compress(body)
        body = packed[: draw(st.integers(10, len(packed) - 9))]  # the trailer is 8 bytes
    return body


def _apply(defect: str, table: list[list[str]], draw: Any) -> None:
    row = draw(st.integers(1, len(table) - 1))
    column = draw(st.integers(1, 4))  # a price column
    if defect == "missing_column":
        drop = draw(st.integers(0, 4))  # the date or a price
        for line in table:
            if drop < len(line):
                del line[drop]
    elif defect in {"nan", "empty_cell", "huge_value", "infinite_value", "nul_byte"}:
        table[row][column % len(table[row])] = {
            "nan": draw(st.sampled_from(["NaN", "nan", "-nan"])),
            "empty_cell": "",
            "huge_value": "9" * draw(st.integers(309, 400)),
            "infinite_value": draw(st.sampled_from(["inf", "-Infinity", "1e400"])),
            "nul_byte": "10\x005",
        }[defect]
    elif defect == "duplicate_timestamp":
        table.insert(row, list(table[row]))
    elif defect == "unsorted":  # a file has three rows at least
        other = row + 1 if row + 1 < len(table) else row - 1
        table[row], table[other] = table[other], table[row]
    elif defect == "high_below_low" and len(table[row]) >= 5:
        table[row][2], table[row][3] = table[row][3], table[row][2]
    elif defect == "ragged_row":  # two cells stay: a row emptied entirely is a blank line
        del table[row][draw(st.integers(2, len(table[row]) - 1)) :]


def _stored(instrument: Any) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    bars = Bar.objects.filter(instrument=instrument).order_by("timeframe", "timestamp")
    versions = SeriesVersion.objects.filter(instrument=instrument).order_by("timeframe")
    return (
        list(bars.values_list("timeframe", "timestamp", "open", "high", "low", "close", "volume")),
        list(versions.values_list("timeframe", "version")),
    )


@pytest.fixture
def stored_instrument(db):
    instrument = InstrumentFactory(symbol="BTCUSD", asset_class=AssetClass.CRYPTO, timezone="UTC")
    body = "\n".join(",".join(r) for r in [HEADER, *_rows(0, STORED_DAYS, 1.0)]).encode()
    bars_import(instrument=instrument, source=body, timeframe="1d")
    return instrument


PROPERTY_SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY_SETTINGS
@given(source=malformed_files())
def test_a_malformed_file_is_refused_whole_with_a_clear_error(stored_instrument, source):
    before = _stored(stored_instrument)
    with transaction.atomic():  # each example starts from the same stored rows
        try:
            report = bars_import(instrument=stored_instrument, source=source, timeframe="1d")
        except BarImportError as refused:
            assert str(refused).strip()
            problems = refused.details["rejected"]
            assert problems and all(p["code"] and p["message"] for p in problems), problems
            assert refused.details["inserted"] == refused.details["updated"] == 0
            assert _stored(stored_instrument) == before  # nothing written, not even in part
        else:
            pytest.fail(f"a malformed file was imported: {report.as_dict()}\n{source!r}")
        finally:
            transaction.set_rollback(True)


@PROPERTY_SETTINGS
@given(source=malformed_files())
def test_skipping_invalid_rows_writes_only_valid_ones(stored_instrument, source):
    before_rows, before_versions = _stored(stored_instrument)
    with transaction.atomic():
        try:
            report = bars_import(
                instrument=stored_instrument, source=source, timeframe="1d", skip_invalid=True
            )
        except BarImportError as refused:  # the file as a whole is unusable, or no row is valid
            assert refused.details["rejected"]
            assert _stored(stored_instrument) == (before_rows, before_versions)
        else:
            after_rows, _ = _stored(stored_instrument)
            counts = report.counts
            assert counts.inserted + counts.updated + counts.unchanged == report.rows_valid
            assert len(after_rows) == len(before_rows) + counts.inserted
            for _, _, open_, high, low, close, volume in after_rows:
                values = (open_, high, low, close, volume)
                assert all(math.isfinite(v) for v in values)
                assert 0 < low <= min(open_, close) <= max(open_, close) <= high
                assert volume >= 0
        transaction.set_rollback(True)
