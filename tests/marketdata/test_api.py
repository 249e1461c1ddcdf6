"""Market-data API: reads for any user, imports for operators, errors in the JSON envelope."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.pagination import PageNumberPagination

from backtesting.marketdata.models import Bar
from tests.factories import InstrumentFactory
from tests.marketdata.conftest import GOOD_ROWS, make_csv

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/marketdata/instruments/"
BARS_URL = "/api/v1/marketdata/instruments/AAPL/bars/"
IMPORT_URL = "/api/v1/marketdata/instruments/AAPL/bars/import/"


def upload(rows, **extra):
    return {"file": SimpleUploadedFile("bars.csv", make_csv(rows), "text/csv"), **extra}


# --- instruments ---------------------------------------------------------------------


def test_instruments_are_listed_page_by_page(viewer_client, monkeypatch):
    for symbol in ("AAA", "BBB", "CCC"):
        InstrumentFactory(symbol=symbol)
    # DRF copies PAGE_SIZE onto the paginator class at import, so patch the class itself.
    monkeypatch.setattr(PageNumberPagination, "page_size", 2)
    first = viewer_client.get(LIST_URL)
    assert first.status_code == 200
    assert first.json()["count"] == 3
    assert [i["symbol"] for i in first.json()["results"]] == ["AAA", "BBB"]
    second = viewer_client.get(first.json()["next"])
    assert [i["symbol"] for i in second.json()["results"]] == ["CCC"]


def test_instruments_filter_by_asset_class_and_search_symbol_or_name(viewer_client):
    InstrumentFactory(symbol="EURUSD", name="Euro / US dollar", asset_class="fx")
    InstrumentFactory(symbol="BTCUSD", name="Bitcoin", asset_class="crypto")
    InstrumentFactory(symbol="MSFT", name="Microsoft")
    fx = viewer_client.get(LIST_URL, {"asset_class": "fx"}).json()["results"]
    assert [i["symbol"] for i in fx] == ["EURUSD"]
    by_name = viewer_client.get(LIST_URL, {"search": "micro"}).json()["results"]
    assert [i["symbol"] for i in by_name] == ["MSFT"]
    by_symbol = viewer_client.get(LIST_URL, {"search": "usd"}).json()["results"]
    assert {i["symbol"] for i in by_symbol} == {"EURUSD", "BTCUSD"}


def test_instrument_filters_reject_bad_input_with_field_errors(viewer_client):
    response = viewer_client.get(LIST_URL, {"asset_class": "bonds"})
    assert response.status_code == 400
    assert "asset_class" in response.json()["error"]["details"]


def test_instrument_detail_by_symbol_in_any_case(viewer_client, instrument):
    body = viewer_client.get(f"{LIST_URL}aapl/").json()
    assert body["symbol"] == "AAPL"
    assert body["timezone"] == "America/New_York"


def test_an_unknown_instrument_is_404_in_the_envelope(viewer_client):
    response = viewer_client.get(f"{LIST_URL}NOPE/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("url", [LIST_URL, f"{LIST_URL}AAPL/", BARS_URL])
def test_anonymous_users_get_401_in_the_envelope(api_client, instrument, url):
    response = api_client.get(url)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


# --- bars ----------------------------------------------------------------------------


def test_bars_in_a_range_as_json(viewer_client, imported):
    response = viewer_client.get(
        BARS_URL, {"timeframe": "1d", "start": "2024-01-03", "end": "2024-01-05"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["symbol"] == "AAPL" and body["next"] is None
    assert body["results"][0] == {
        "timestamp": "2024-01-03T00:00:00Z", "open": 104.0, "high": 106.0, "low": 101.0,
        "close": 102.0, "volume": 1100.0,
    }  # fmt: skip
    assert len(body["results"]) == 3


def test_bars_are_cursor_paginated_without_gaps_or_repeats(viewer_client, imported):
    seen, url, params = [], BARS_URL, {"limit": 2}
    while url:
        body = viewer_client.get(url, params).json()
        seen += [row["close"] for row in body["results"]]
        url, params = body["next"], None
    assert seen == [104, 102, 101, 107, 108]


@pytest.mark.parametrize(
    "moments",
    [
        ["2024-01-03T00:00:00", "2024-01-03T09:31:00", "1969-07-20T20:17:40"],  # whole seconds
        ["2024-01-03T00:00:00", "2024-01-03T00:00:00.250000"],  # one bar with a fraction
        [],
    ],
)
def test_bar_timestamps_read_as_isoformat_writes_them(moments):
    from datetime import UTC, datetime

    import numpy as np

    from backtesting.marketdata.api import bars_timestamps_iso
    from backtesting.marketdata.writes import datetime_to_ns

    parsed = [datetime.fromisoformat(m).replace(tzinfo=UTC) for m in moments]
    nanoseconds = np.array([datetime_to_ns(p) for p in parsed], dtype=np.int64)

    expected = [p.isoformat().replace("+00:00", "Z") for p in parsed]
    assert bars_timestamps_iso(nanoseconds) == expected


def test_bars_as_csv_by_format_parameter_or_accept_header(viewer_client, imported):
    by_param = viewer_client.get(BARS_URL, {"format": "csv", "limit": 2})
    assert by_param.status_code == 200
    assert by_param["Content-Type"].startswith("text/csv")
    lines = by_param.content.decode().splitlines()
    assert lines[0] == "timestamp,open,high,low,close,volume"
    assert lines[1] == "2024-01-02T00:00:00Z,100.0,105.0,99.0,104.0,1000.0"
    assert 'rel="next"' in by_param["Link"]
    by_accept = viewer_client.get(BARS_URL, HTTP_ACCEPT="text/csv")
    assert len(by_accept.content.decode().splitlines()) == 6


def test_a_coarser_timeframe_is_served_resampled(viewer_client, imported):
    body = viewer_client.get(BARS_URL, {"timeframe": "1w"}).json()
    assert [(r["timestamp"], r["high"]) for r in body["results"]] == [
        ("2024-01-01T00:00:00Z", 108.0), ("2024-01-08T00:00:00Z", 109.0),
    ]  # fmt: skip


def test_bad_bar_parameters_are_400_in_json_even_when_csv_was_asked(viewer_client, imported):
    response = viewer_client.get(BARS_URL, {"timeframe": "2d", "format": "csv", "cursor": "zz"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert set(response.json()["error"]["details"]) == {"timeframe"}


# --- import --------------------------------------------------------------------------


def test_an_operator_imports_a_file_and_gets_the_report(operator_client, instrument):
    response = operator_client.post(
        IMPORT_URL, upload(GOOD_ROWS, timeframe="1d"), format="multipart"
    )
    assert response.status_code == 200, response.content
    assert response.json()["inserted"] == 5
    assert response.json()["version"] == 1
    assert Bar.objects.count() == 5


def test_an_invalid_upload_is_400_with_the_line_report_and_writes_nothing(
    operator_client, instrument
):
    rows = [*GOOD_ROWS[:2], "2024-01-04,102,101,100,101,900"]
    response = operator_client.post(IMPORT_URL, upload(rows), format="multipart")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_bar_file"
    assert error["details"]["rejected"] == [
        {
            "line": 4,
            "code": "ohlc_inconsistent",
            "message": error["details"]["rejected"][0]["message"],
        }
    ]
    assert not Bar.objects.exists()


def test_skip_invalid_over_the_api_writes_the_valid_rows(operator_client, instrument):
    rows = [*GOOD_ROWS[:2], "2024-01-04,102,101,100,101,900"]
    response = operator_client.post(
        IMPORT_URL, upload(rows, skip_invalid="true"), format="multipart"
    )
    assert response.status_code == 200
    assert response.json()["rows_rejected"] == 1
    assert Bar.objects.count() == 2


def test_import_without_a_file_is_400_with_field_errors(operator_client, instrument):
    response = operator_client.post(
        IMPORT_URL, {"timeframe": "1d", "tz": "Mars/Base"}, format="multipart"
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"file", "tz"}


def test_traders_and_viewers_may_not_import(owner_client, viewer_client, instrument):
    for client in (owner_client, viewer_client):
        response = client.post(IMPORT_URL, upload(GOOD_ROWS), format="multipart")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
    assert not Bar.objects.exists()


def test_anonymous_import_is_401(api_client, instrument):
    response = api_client.post(IMPORT_URL, upload(GOOD_ROWS), format="multipart")
    assert response.status_code == 401


def test_import_into_an_unknown_instrument_is_404(operator_client):
    response = operator_client.post(f"{LIST_URL}NOPE/bars/import/", upload(GOOD_ROWS),
                                    format="multipart")  # fmt: skip
    assert response.status_code == 404


# --- the paths of the last release (aliases for one release, docs/api.md) ------------------

OLD_LIST_URL = "/api/v1/instruments/"


@pytest.mark.parametrize(
    ("suffix", "part"),
    [("", "results"), ("AAPL/", "symbol"), ("AAPL/bars/?timeframe=1d&limit=2", "results")],
)
def test_the_old_api_paths_answer_like_the_new_ones(viewer_client, imported, suffix, part):
    old = viewer_client.get(OLD_LIST_URL + suffix)
    new = viewer_client.get(LIST_URL + suffix)
    assert old.status_code == new.status_code == 200
    # Pagination links name the path that was asked, so compare the data itself.
    assert old.json()[part] == new.json()[part]
    assert new.json()[part]


def test_an_operator_still_imports_through_the_old_path(operator_client, instrument):
    response = operator_client.post(
        f"{OLD_LIST_URL}AAPL/bars/import/", upload(GOOD_ROWS, timeframe="1d"), format="multipart"
    )
    assert response.status_code == 200, response.content
    assert response.json()["inserted"] == 5
    assert Bar.objects.count() == 5


def test_the_old_paths_keep_their_permissions(api_client, viewer_client, instrument):
    assert api_client.get(OLD_LIST_URL).status_code == 401
    response = viewer_client.post(
        f"{OLD_LIST_URL}AAPL/bars/import/", upload(GOOD_ROWS), format="multipart"
    )
    assert response.status_code == 403
    assert not Bar.objects.exists()


def test_the_schema_documents_only_the_new_paths():
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    assert "/api/v1/marketdata/instruments/{symbol}/bars/import/" in paths
    assert not [path for path in paths if path.startswith(OLD_LIST_URL)]
