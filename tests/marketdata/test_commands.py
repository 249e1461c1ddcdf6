"""data_report and load_demo_marketdata."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from backtesting.marketdata.models import Bar, Instrument
from backtesting.marketdata.selectors import bars_load_arrays
from backtesting.marketdata.services import bars_import
from tests.marketdata.conftest import GOOD_ROWS, make_csv

pytestmark = pytest.mark.django_db


def test_data_report_shows_coverage_gaps_and_jumps(instrument, capsys):
    rows = [*GOOD_ROWS, "2024-01-16,108,160,107,150,10"]  # 5 sessions missing, +39%
    bars_import(instrument=instrument, source=make_csv(rows), timeframe="1d", skip_invalid=True)
    call_command("data_report", "aapl")
    out = capsys.readouterr().out
    assert "6 bars, 2024-01-02 .. 2024-01-16; version 1" in out
    assert "gaps: 1, suspicious jumps: 1" in out
    assert "jump 2024-01-16 00:00: close 108 -> 150" in out


def test_load_demo_marketdata_loads_real_bars_once(capsys):
    call_command("load_demo_marketdata")
    assert set(Instrument.objects.values_list("symbol", flat=True)) == {
        "AAPL",
        "GOOG",
        "IBM",
        "MSFT",
    }
    count = Bar.objects.count()
    assert count == 3270 * 3 + 2148
    call_command("load_demo_marketdata")
    assert "inserted 0, updated 0, unchanged 3270" in capsys.readouterr().out
    assert Bar.objects.count() == count
    ibm = bars_load_arrays("IBM", "1d")
    assert ibm.timestamps[0] == 951868800 * 10**9  # 2000-03-01
    assert abs(ibm.close[-1] - 175.27118333217) < 1e-9  # adjusted close of 2013-03-01
