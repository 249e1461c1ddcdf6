"""The market-data pages for traders: the instruments list, one instrument's chart and bars.json."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from backtesting.marketdata import chartdata
from backtesting.marketdata.services import bars_import
from tests.factories import InstrumentFactory
from tests.marketdata.conftest import make_csv

pytestmark = pytest.mark.django_db

LIST = "/marketdata/"


def weekdays(start: date, count: int) -> list[date]:
    days: list[date] = []
    day = start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def import_days(instrument, days: list[date], *, base: float = 100.0) -> None:
    """Daily bars on `days` (any holes stay holes), through the real import."""
    rows = [
        f"{d:%Y-%m-%d},{base + i},{base + i + 2},{base + i - 1},{base + i + 1},{1000 + i}"
        for i, d in enumerate(days)
    ]
    bars_import(instrument=instrument, source=make_csv(rows), timeframe="1d", skip_invalid=True)


def import_minutes(instrument, start: datetime, count: int) -> None:
    rows = [
        f"{start + timedelta(minutes=i):%Y-%m-%dT%H:%M:%SZ},10,11,9,10.5,5" for i in range(count)
    ]
    bars_import(
        instrument=instrument,
        source=make_csv(rows, header="Datetime,Open,High,Low,Close,Volume"),
        timeframe="1m",
    )


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


# --- the list ---------------------------------------------------------------------------


@pytest.mark.parametrize("url", [LIST, "/marketdata/AAPL/", "/marketdata/AAPL/bars.json"])
def test_anonymous_users_are_sent_to_sign_in(client, imported, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_the_list_shows_each_stored_series_with_its_real_coverage(signed_in, imported):
    other = InstrumentFactory(symbol="IBM", name="International Business Machines")
    import_minutes(other, datetime(2024, 3, 4, 14, 30, tzinfo=UTC), 90)

    response = signed_in.get(LIST)

    assert response.status_code == 200
    rows = {row.instrument.symbol: row for row in response.context["rows"]}
    aapl = rows["AAPL"]
    assert [(s.timeframe.value, s.bar_count) for s in aapl.stored] == [("1d", 5)]
    assert aapl.stored[0].first == datetime(2024, 1, 2, tzinfo=UTC)
    assert aapl.stored[0].last == datetime(2024, 1, 8, tzinfo=UTC)
    assert [tf.value for tf in aapl.derived] == ["1w"]
    ibm = rows["IBM"]
    assert [(s.timeframe.value, s.bar_count) for s in ibm.stored] == [("1m", 90)]
    assert [tf.value for tf in ibm.derived] == ["5m", "15m", "1h", "4h", "1d", "1w"]
    html = response.content.decode()
    assert 'href="/marketdata/AAPL/"' in html
    assert "2024-01-02" in html and "2024-01-08" in html
    assert "2024-03-04 14:30" in html and "2024-03-04 15:59" in html
    assert (
        'href="/marketdata/AAPL/?timeframe=1w" title="resampled from 1d; open the 1w chart"' in html
    )


def test_an_instrument_without_bars_is_listed_as_such(signed_in, instrument):
    response = signed_in.get(LIST)
    assert "No bars yet" in response.content.decode()
    assert "No market data yet" not in response.content.decode()


def test_search_matches_symbol_or_name(signed_in, imported):
    InstrumentFactory(symbol="IBM", name="International Business Machines")
    by_name = signed_in.get(LIST, {"q": "apple"})
    assert [r.instrument.symbol for r in by_name.context["rows"]] == ["AAPL"]
    by_symbol = signed_in.get(LIST, {"q": "ib"})
    assert [r.instrument.symbol for r in by_symbol.context["rows"]] == ["IBM"]
    nothing = signed_in.get(LIST, {"q": "<zzz>"})
    assert nothing.context["rows"] == []
    assert "No instrument matches “&lt;zzz&gt;”" in nothing.content.decode()


def test_the_list_pages_by_fifty_and_keeps_the_search(signed_in):
    for i in range(55):
        InstrumentFactory(symbol=f"T{i:03d}", name=f"Test {i}")
    first = signed_in.get(LIST, {"q": "test"})
    assert len(first.context["rows"]) == 50
    assert 'href="?q=test&amp;page=2"' in first.content.decode()
    second = signed_in.get(LIST, {"q": "test", "page": 2})
    assert [r.instrument.symbol for r in second.context["rows"]] == [
        f"T{i:03d}" for i in range(50, 55)
    ]
    assert "Page 2 of 2" in second.content.decode()


def test_the_list_reads_coverage_in_a_fixed_number_of_queries(
    signed_in, django_assert_max_num_queries
):
    for i in range(3):
        import_days(InstrumentFactory(symbol=f"A{i}"), weekdays(date(2024, 1, 1), 10))
    with django_assert_max_num_queries(5):  # session, user, count, page, coverage
        few = signed_in.get(LIST)
    for i in range(3, 30):
        import_days(InstrumentFactory(symbol=f"A{i:02d}"), weekdays(date(2024, 1, 1), 3))
    with django_assert_max_num_queries(5):
        many = signed_in.get(LIST)
    assert len(few.context["rows"]) == 3 and len(many.context["rows"]) == 30


def test_the_empty_state_tells_a_trader_whom_to_ask(signed_in):
    html = signed_in.get(LIST).content.decode()
    assert "No market data yet" in html
    assert "ask your platform's operator" in html
    assert 'href="/marketdata/import/"' not in html


def test_the_empty_state_links_staff_to_the_import_page(client, operator):
    client.force_login(operator)
    html = client.get(LIST).content.decode()
    assert "No market data yet" in html
    assert 'href="/marketdata/import/"' in html


# --- one instrument ---------------------------------------------------------------------


def test_the_instrument_page_describes_its_bars_and_links_the_chart_data(signed_in, imported):
    response = signed_in.get("/marketdata/aapl/")
    assert response.status_code == 200
    chart = response.context["chart"]
    assert chart["bar_count"] == 5 and chart["per_candle"] == 1
    assert chart["bars_url"] == "/marketdata/AAPL/bars.json?timeframe=1d"
    assert [b["close"] for b in chart["latest"]] == [108, 107, 101, 102, 104]  # newest first
    html = response.content.decode()
    assert 'data-bars-url="/marketdata/AAPL/bars.json?timeframe=1d"' in html
    assert "Gaps: 0" in html
    assert 'href="/backtests/new/?instruments=AAPL"' in html
    assert "Run a backtest on AAPL" in html
    # Only timeframes with data are offered: stored 1d, resampled 1w.
    assert [t["value"] for t in response.context["timeframes"]] == ["1d", "1w"]


def test_an_unknown_symbol_is_a_404_page(signed_in, imported):
    assert signed_in.get("/marketdata/NOPE/").status_code == 404
    assert signed_in.get("/marketdata/NOPE/bars.json").status_code == 404


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"timeframe": "7x"}, "Select a valid choice"),
        ({"timeframe": "1m"}, "There is no 1m data for AAPL; choose 1d, 1w."),
        ({"start": "2024-13-45"}, "Enter a valid date"),
        ({"start": "2024-01-08", "end": "2024-01-02"}, "must not be before the start"),
    ],
)
def test_bad_parameters_give_a_message_not_a_server_error(signed_in, imported, query, message):
    page = signed_in.get("/marketdata/AAPL/", query)
    assert page.status_code == 400
    assert message in page.content.decode()
    assert page.context["chart"] is None
    data = signed_in.get("/marketdata/AAPL/bars.json", query)
    assert data.status_code == 400
    assert any(message in problem for problem in data.json()["errors"])


def test_a_date_range_selects_the_bars_inclusive(signed_in, imported):
    data = signed_in.get(
        "/marketdata/AAPL/bars.json",
        {"timeframe": "1d", "start": "2024-01-03", "end": "2024-01-05"},
    ).json()
    assert [c["close"] for c in data["candles"]] == [102, 101, 107]
    assert data["candles"][0]["time"] == int(datetime(2024, 1, 3, tzinfo=UTC).timestamp())


def test_bars_json_sends_every_bar_when_few(signed_in, imported):
    data = signed_in.get("/marketdata/AAPL/bars.json", {"timeframe": "1d"}).json()
    assert data["bucket"] == {"bars_per_candle": 1, "source_bars": 5, "candles": 5}
    assert data["candles"][0] == {
        "time": int(datetime(2024, 1, 2, tzinfo=UTC).timestamp()),
        "open": 100.0,
        "high": 105.0,
        "low": 99.0,
        "close": 104.0,
    }
    assert [v["value"] for v in data["volume"]] == [1000, 1100, 900, 1500, 1200]


def test_bars_json_buckets_a_long_series_as_worked_by_hand(signed_in, imported, monkeypatch):
    monkeypatch.setattr(chartdata, "MAX_CANDLES", 2)
    data = signed_in.get("/marketdata/AAPL/bars.json", {"timeframe": "1d"}).json()
    # ceil(5 / 2) = 3 bars a candle: 2, 3, 4 January, then 5 and 8 January (GOOD_ROWS).
    assert data["bucket"] == {"bars_per_candle": 3, "source_bars": 5, "candles": 2}
    jan2, jan5 = (int(datetime(2024, 1, d, tzinfo=UTC).timestamp()) for d in (2, 5))
    assert data["candles"] == [
        {"time": jan2, "open": 100.0, "high": 106.0, "low": 99.0, "close": 101.0},
        {"time": jan5, "open": 101.0, "high": 109.0, "low": 100.5, "close": 108.0},
    ]
    assert data["volume"] == [{"time": jan2, "value": 3000.0}, {"time": jan5, "value": 2700.0}]


def test_a_resampled_timeframe_is_charted(signed_in, imported):
    data = signed_in.get("/marketdata/AAPL/bars.json", {"timeframe": "1w"}).json()
    # Week of Mon 1 Jan (2-5 Jan) and week of Mon 8 Jan.
    assert [(c["open"], c["high"], c["low"], c["close"]) for c in data["candles"]] == [
        (100, 108, 99, 107),
        (107, 109, 106, 108),
    ]


def test_a_hole_in_daily_bars_is_reported_as_a_gap(signed_in):
    days = weekdays(date(2020, 2, 24), 10)  # 24 Feb .. 6 Mar 2020
    days += weekdays(date(2020, 3, 9), 1)  # Monday 9 March; then a week without bars
    days += weekdays(date(2020, 3, 16), 5)
    import_days(InstrumentFactory(symbol="HOLE"), days)

    data = signed_in.get("/marketdata/HOLE/bars.json", {"timeframe": "1d"}).json()
    assert data["gaps"] == [
        {
            "from": "2020-03-09T00:00:00+00:00",
            "to": "2020-03-16T00:00:00+00:00",
            "missing": 4,
            "time": int(datetime(2020, 3, 16, tzinfo=UTC).timestamp()),
        }
    ]
    html = signed_in.get("/marketdata/HOLE/").content.decode()
    assert "Gaps: 1" in html and "(largest 2020-03-09 → 2020-03-16)" in html


def test_a_regular_weekday_series_with_a_holiday_has_no_gap(signed_in):
    days = [d for d in weekdays(date(2024, 1, 2), 60) if d != date(2024, 1, 15)]  # MLK day
    import_days(InstrumentFactory(symbol="REG"), days)
    data = signed_in.get("/marketdata/REG/bars.json", {"timeframe": "1d"}).json()
    assert data["gaps"] == []
    assert "Gaps: 0" in signed_in.get("/marketdata/REG/").content.decode()


def test_gap_markers_land_on_the_candle_holding_the_bar_after_the_gap(signed_in, monkeypatch):
    monkeypatch.setattr(chartdata, "MAX_CANDLES", 4)
    days = weekdays(date(2020, 2, 24), 11) + weekdays(date(2020, 3, 16), 5)  # 16 bars
    import_days(InstrumentFactory(symbol="HOLE"), days)
    data = signed_in.get("/marketdata/HOLE/bars.json", {"timeframe": "1d"}).json()
    assert data["bucket"]["bars_per_candle"] == 4
    # The bar after the gap (16 March) is bar 11, in the candle of bars 8..11, which opens on
    # bar 8 = 5 March.
    assert [g["time"] for g in data["gaps"]] == [int(datetime(2020, 3, 5, tzinfo=UTC).timestamp())]
    assert data["gaps"][0]["time"] in [c["time"] for c in data["candles"]]


def test_an_instrument_without_bars_says_so(signed_in, instrument):
    response = signed_in.get("/marketdata/AAPL/")
    assert response.status_code == 200
    assert "No bars for AAPL yet" in response.content.decode()
    assert signed_in.get("/marketdata/AAPL/bars.json").status_code == 400


def test_a_range_without_bars_says_so(signed_in, imported):
    response = signed_in.get("/marketdata/AAPL/", {"start": "2030-01-01"})
    assert response.status_code == 200
    assert "No 1d bars for AAPL in this range" in response.content.decode()


def test_names_are_escaped(signed_in):
    InstrumentFactory(symbol="XSS", name="<script>alert(1)</script>")
    assert b"<script>alert" not in signed_in.get(LIST).content
    assert b"<script>alert" not in signed_in.get("/marketdata/XSS/").content


def test_the_import_page_keeps_its_address_beside_the_instrument_pages(client, operator):
    client.force_login(operator)
    # Not an instrument called IMPORT: the operators' page (403 without a verified second factor).
    assert client.get("/marketdata/import/").status_code == 403


def test_candle_buckets_keep_every_extreme():
    from backtesting.engine import BarSeries

    rng = np.random.default_rng(1)
    n = 10_001
    close = 1000 + np.cumsum(rng.normal(size=n))
    bars = BarSeries(
        "X",
        np.arange(n, dtype=np.int64) * 60_000_000_000,
        close,
        close + 1,
        close - 1,
        close,
        np.ones(n),
    )
    candles = chartdata.candles_bucket(bars, 2000)
    assert candles.per_candle == 6 and len(candles.bars) == 1667
    assert candles.bars.high.max() == bars.high.max()
    assert candles.bars.low.min() == bars.low.min()
    assert candles.bars.volume.sum() == n
    assert candles.bars.close[-1] == bars.close[-1]


def test_a_viewer_reads_the_chart_but_is_not_offered_a_backtest(client, viewer, imported):
    client.force_login(viewer)
    response = client.get("/marketdata/AAPL/")
    assert response.status_code == 200 and response.context["chart"]["bar_count"] == 5
    assert "Run a backtest on AAPL" not in response.content.decode()
