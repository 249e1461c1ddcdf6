"""Submitting reads market data once, as counts: no bar row is loaded to validate a request."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from backtesting.models import BacktestStatus

PRICE_COLUMNS = ('"open"', '"high"', '"low"', '"close"', '"volume"')


def test_submit_validates_market_data_with_two_queries_and_no_bar_prices(submit) -> None:
    with CaptureQueriesContext(connection) as captured:
        backtest = submit()
    assert backtest.status == BacktestStatus.QUEUED
    # Reads of market data (linking the instruments to the new row is a write, not counted).
    market_data = [
        q["sql"]
        for q in captured
        if "marketdata_" in q["sql"] and "backtesting_backtest_instruments" not in q["sql"]
    ]
    # The serving series (instruments and their versions), then one aggregate of their bars.
    assert len(market_data) == 2, market_data
    assert "marketdata_series_version" in market_data[0] and "COUNT(" not in market_data[0]
    assert "COUNT(" in market_data[1].upper() and "marketdata_bar" in market_data[1]
    assert not any(column in sql for sql in market_data for column in PRICE_COLUMNS), (
        "a submit must not read bar prices"
    )


def test_a_submit_takes_ten_queries(submit, django_assert_num_queries) -> None:
    # Strategy visible; market-data coverage (the serving series, then the bars in range);
    # savepoint; user lock; two quota counts; the row; its instruments; release.
    with django_assert_num_queries(10):
        submit()


def test_a_submit_counts_only_what_a_quota_limits(submit, owner) -> None:
    def quota_counts() -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            submit()
        return [q["sql"] for q in captured if q["sql"].startswith("SELECT COUNT(*)")]

    assert len(quota_counts()) == 2  # a trader: the concurrent and the daily quota
    owner.is_superuser = True  # no quota applies (accounts.quotas.quota_for is None)
    owner.save(update_fields=["is_superuser"])
    assert quota_counts() == []
