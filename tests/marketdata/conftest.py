"""Fixtures for market-data tests: an instrument, CSV builders, a verified operator client."""

from __future__ import annotations

import gzip
from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from backtesting.marketdata.services import bars_import
from tests.factories import InstrumentFactory

HEADER = "Date,Open,High,Low,Close,Volume"
# Five consecutive NYSE sessions (Tue 2 Jan 2024 .. Mon 8 Jan 2024; the weekend is no gap).
GOOD_ROWS = [
    "2024-01-02,100,105,99,104,1000",
    "2024-01-03,104,106,101,102,1100",
    "2024-01-04,102,103,100,101,900",
    "2024-01-05,101,108,100.5,107,1500",
    "2024-01-08,107,109,106,108,1200",
]


def make_csv(rows: list[str], header: str = HEADER, *, gz: bool = False) -> bytes:
    body = "\n".join([header, *rows]).encode() + b"\n"
    return gzip.compress(body) if gz else body


@pytest.fixture
def csv_bytes() -> Callable[..., bytes]:
    return make_csv


@pytest.fixture
def instrument(db):
    return InstrumentFactory(symbol="AAPL", name="Apple Inc.", timezone="America/New_York")


@pytest.fixture
def imported(instrument):
    return bars_import(instrument=instrument, source=make_csv(GOOD_ROWS), timeframe="1d")


@pytest.fixture
def viewer_client(viewer) -> APIClient:
    client = APIClient()
    client.force_authenticate(viewer)
    return client
