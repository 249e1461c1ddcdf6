"""The operator upload page and the admin import page."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from backtesting.marketdata.models import Bar
from tests.marketdata.conftest import GOOD_ROWS, make_csv

pytestmark = pytest.mark.django_db

PAGE = "/marketdata/import/"
ADMIN_PAGE = "/admin/marketdata/instrument/import-bars/"


def form(rows: list[str]) -> dict[str, object]:
    return {
        "instrument": "AAPL",
        "timeframe": "1d",
        "file": SimpleUploadedFile("a.csv", make_csv(rows)),
    }


@pytest.fixture
def operator_page_client(operator, monkeypatch):
    # OTP verification of a session is accounts' flow (and tested there); here it is granted.
    monkeypatch.setattr("backtesting.marketdata.views.has_operator_access", lambda u: u.is_operator)
    client = Client()
    client.force_login(operator)
    return client


def test_the_upload_page_imports_and_shows_the_report(operator_page_client, instrument):
    response = operator_page_client.post(PAGE, form(GOOD_ROWS))
    assert response.status_code == 200
    assert b"Imported AAPL 1d" in response.content
    assert Bar.objects.count() == 5


def test_the_upload_page_lists_rejected_lines_and_writes_nothing(operator_page_client, instrument):
    response = operator_page_client.post(PAGE, form([GOOD_ROWS[0], "2024-01-03,x,1,1,1,1"]))
    assert response.status_code == 400
    assert b"parse_error" in response.content
    assert not Bar.objects.exists()


def test_the_upload_page_is_for_operators_only(client, owner):
    assert client.get(PAGE).status_code == 302  # to the login page
    client.force_login(owner)
    assert client.get(PAGE).status_code == 403


def test_an_operator_without_two_factor_verification_is_refused(client, operator):
    client.force_login(operator)
    assert client.get(PAGE).status_code == 403


def test_the_admin_import_page_imports_for_an_operator(operator, monkeypatch, instrument):
    monkeypatch.setattr(admin.site, "has_permission", lambda request: True)
    monkeypatch.setattr("backtesting.marketdata.views.has_operator_access", lambda user: True)
    client = Client()
    client.force_login(operator)
    response = client.get(ADMIN_PAGE + "?instrument=AAPL")
    assert response.status_code == 200
    assert b"Import bars" in response.content
    response = client.post(ADMIN_PAGE, form(GOOD_ROWS))
    assert b"Imported AAPL 1d" in response.content
    assert Bar.objects.count() == 5


def test_the_old_upload_page_address_redirects_to_the_new_one(client):
    response = client.get("/backtests/marketdata/import/?instrument=AAPL")
    assert response.status_code == 301
    assert response["Location"] == f"{PAGE}?instrument=AAPL"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("/admin/backtesting/instrument/", "/admin/marketdata/instrument/"),
        ("/admin/backtesting/bar/3/change/", "/admin/marketdata/bar/3/change/"),
        (
            "/admin/backtesting/instrument/import-bars/?instrument=AAPL",
            ADMIN_PAGE + "?instrument=AAPL",
        ),
    ],
)
def test_the_old_admin_addresses_redirect_to_the_market_data_admin(client, old, new):
    response = client.get(old)
    assert response.status_code == 301
    assert response["Location"] == new


def test_the_market_data_list_links_the_upload_page_for_operators_only(
    client, operator, owner, instrument
):
    client.force_login(operator)
    assert f'href="{PAGE}"'.encode() in client.get("/marketdata/").content
    client.force_login(owner)
    assert f'href="{PAGE}"'.encode() not in client.get("/marketdata/").content
