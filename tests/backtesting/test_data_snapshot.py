"""A backtest's stored series versions describe exactly the bars it ran on and fingerprinted.

An import may commit at any moment while a worker reads market data. Here one commits right
before and another right after the worker's bar read (each in its own thread, on its own
connection): whatever the worker ran on, the version it stores must be the version of those
bars, or provenance ("which data did this run see?") would lie.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection

from backtesting.engine.barcodec import fingerprint_bars
from backtesting.marketdata import selectors
from backtesting.marketdata.models import Instrument, SeriesVersion
from backtesting.marketdata.timeframes import Timeframe
from backtesting.models import BacktestStatus
from tests.backtesting.conftest import END, START, execute_job, seed_bars

pytestmark = pytest.mark.django_db(transaction=True)

REAL_LOAD = selectors._load_from_database


def in_other_thread(work: Callable[[], None]) -> None:
    """Run `work` to completion on another thread, i.e. another database connection."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def current_fingerprint() -> tuple[int, str]:
    """(series version, fingerprint of its bars in the backtest's range), as committed now."""
    instrument = Instrument.objects.get(symbol="AAA")
    version = SeriesVersion.objects.get(instrument=instrument, timeframe="1d").version
    bars = REAL_LOAD(instrument, Timeframe.D1, START, END)
    return version, fingerprint_bars("1d", {"AAA": bars})


def test_an_import_committing_during_the_data_read_cannot_mismatch_version_and_fingerprint(
    submit, monkeypatch
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs a second connection to the same database (PostgreSQL)")
    backtest = submit()
    cache.clear()  # the worker must read the database, where the imports land
    fingerprints = dict([current_fingerprint()])

    def reimport() -> None:
        seed_bars("AAA", 500, seed=len(fingerprints) + 1)  # other prices: a new version
        fingerprints.update([current_fingerprint()])

    def interleaved(*args: Any, **kwargs: Any) -> Any:
        in_other_thread(reimport)
        bars = REAL_LOAD(*args, **kwargs)
        in_other_thread(reimport)
        return bars

    monkeypatch.setattr(selectors, "_load_from_database", interleaved)
    done = execute_job(backtest.pk)

    assert done.status == BacktestStatus.SUCCEEDED, done.error_message
    assert sorted(fingerprints) == [1, 2, 3]  # both imports committed during the read
    assert done.data_fingerprint == fingerprints[done.data_versions["AAA"]]


def test_bars_read_while_an_import_commits_are_never_cached_under_the_old_version(
    monkeypatch,
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs a second connection to the same database (PostgreSQL)")
    seed_bars("AAA", 500, seed=1)
    version, before = current_fingerprint()

    def interleaved(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(selectors, "_load_from_database", REAL_LOAD)  # once
        in_other_thread(lambda: seed_bars("AAA", 500, seed=2))  # commits a new version
        return REAL_LOAD(*args, **kwargs)

    monkeypatch.setattr(selectors, "_load_from_database", interleaved)
    selectors.bars_load_arrays("AAA", "1d", START, END)

    # A reader whose snapshot still shows the old version (a worker that started before the
    # import) looks the bars up under the old version's key: it must find those bars or none.
    instrument = Instrument.objects.get(symbol="AAA")
    key = selectors._cache_key(instrument.pk, Timeframe.D1, version, Timeframe.D1, START, END)
    cached = selectors._cache_read(key, "AAA", Timeframe.D1)
    assert cached is None or fingerprint_bars("1d", {"AAA": cached}) == before
