"""Uploads, exports and URL paths: traversal, NUL bytes, malformed and oversized files.

The bar import (API and page, operators only) takes a file: whatever its name (a path out
of the upload directory, a NUL, a header-breaking newline) nothing is written anywhere but
the bars table, and a file that is not a CSV (binary, invalid UTF-8, a gzip bomb's header,
ragged rows, absurd numbers and dates) is a 400 with the line report, nothing written. The
exports name themselves from ids only. A traversal or NUL in any URL path is a 400 or 404,
never a file of ours and never a 500.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from accounts.access import mark_otp_verified
from backtesting.marketdata.models import Bar
from tests.factories import OperatorFactory
from tests.security.world import World

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_rate_limits")]

VALID = (
    b"date,open,high,low,close,volume\n2030-01-02,10,11,9,10.5,100\n2030-01-03,10,11,9,10.5,100\n"
)
TRAVERSAL_TARGET = Path("/tmp/tp-security-traversal.csv")
HOSTILE_NAMES = [
    f"../../../../..{TRAVERSAL_TARGET}",
    "..\\..\\..\\tp-security-traversal.csv",
    "bars\x00.csv",
    "bars.csv\r\nSet-Cookie: stolen=1",
    "x" * 5000 + ".csv",
]
MALFORMED = {
    "binary": bytes(range(256)) * 40,
    "invalid utf-8": b"date,open,high,low,close\n2030-01-02,\xff\xfe,1,1,1\n",
    "utf-16": "date,open,high,low,close\n2030-01-02,1,1,1,1\n".encode("utf-16"),
    "nul bytes": b"date,open,high,low,close\n2030-01-02,1\x00,1,1,1\n",
    "ragged rows": b"date,open,high,low,close\n2030-01-02,1,1\n2030-01-03,1,1,1,1,1,1,1\n",
    "unbalanced quote": b'date,open,high,low,close\n"2030-01-02,1,1,1,1\n',
    "one huge field": b"date,open,high,low,close\n" + b"9" * 300_000 + b",1,1,1,1\n",
    "absurd numbers": b"date,open,high,low,close\n2030-01-02,1e400,nan,-inf,1\n",
    "absurd dates": b"date,open,high,low,close\n99999-99-99,1,1,1,1\n0000-00-00,1,1,1,1\n",
    "formula cells": b"date,open,high,low,close\n=cmd|'/c calc'!A1,1,1,1,1\n",
    "no header": b"\n\n\n",
    "truncated gzip": gzip.compress(VALID * 100)[:60],
    "gzip of garbage": gzip.compress(bytes(range(256)) * 100),
}


@pytest.fixture
def operator_clients(db, monkeypatch) -> tuple[APIClient, Client]:
    operator: Any = OperatorFactory(username="op")
    mark_otp_verified(operator)
    api = APIClient()
    api.force_authenticate(operator)
    # A session's two-factor verification is accounts' flow (tested there); here granted.
    monkeypatch.setattr("backtesting.marketdata.views.has_operator_access", lambda u: True)
    page = Client()
    page.force_login(operator)
    return api, page


def _upload(api: APIClient, name: str, content: bytes) -> Any:
    return api.post(
        "/api/v1/marketdata/instruments/AAA/bars/import/",
        {"file": SimpleUploadedFile(name, content, "text/csv")},
        format="multipart",
    )


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=["posix", "windows", "nul", "crlf", "long"])
def test_an_upload_name_is_never_a_path_or_a_header(world: World, operator_clients, name):
    api, _ = operator_clients
    TRAVERSAL_TARGET.unlink(missing_ok=True)
    response = _upload(api, name, VALID)
    assert response.status_code in (200, 400), response.content[:300]
    assert not TRAVERSAL_TARGET.exists()
    assert "stolen" not in response.cookies and "Set-Cookie: stolen" not in str(response.items())
    if response.status_code == 200:  # imported by its content, whatever it was called
        assert response.json()["inserted"] == 2


@pytest.mark.parametrize("content", list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_file_is_a_400_report_and_writes_nothing(
    world: World, operator_clients, content
):
    api, _ = operator_clients
    bars = Bar.objects.count()
    response = _upload(api, "bars.csv", content)
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert error["code"] and error["message"] and "Traceback" not in error["message"]
    assert Bar.objects.count() == bars


def test_an_oversized_upload_is_refused_and_writes_nothing(
    world: World, operator_clients, settings
):
    settings.MARKETDATA_MAX_UPLOAD_BYTES = 10_000
    api, page = operator_clients
    bars = Bar.objects.count()
    big = VALID + b"2030-01-04,10,11,9,10.5,100\n" * 1000
    response = _upload(api, "big.csv", big)
    assert response.status_code == 400
    assert "too large" in str(response.json()["error"]["details"])
    fields = {"instrument": "AAA", "timeframe": "1d", "tz": "UTC"}
    form = page.post("/marketdata/import/", {**fields, "file": SimpleUploadedFile("big.csv", big)})
    assert form.status_code == 200 and b"too large" in form.content
    assert Bar.objects.count() == bars


def test_exports_are_named_from_ids_only(world: World):
    client = Client()
    client.force_login(world.victim)
    equity = client.get(f"/backtests/{world.finished.pk}/equity.csv")
    trades = client.get(f"/api/v1/backtests/{world.finished.pk}/trades/?format=csv")
    results = client.get(f"/api/v1/optimizations/{world.optimization.pk}/results/?format=csv")
    for response in (equity, trades, results):
        assert response.status_code == 200
        disposition = response.get("Content-Disposition", "")
        assert disposition.startswith("attachment;"), disposition
        name = disposition.split("filename=")[1].strip('"')
        assert name.replace("-", "").replace(".", "").isalnum(), name


TRAVERSALS = [
    "/static/../tradeplatform/settings.py",
    "/static/..%2f..%2ftradeplatform/settings.py",
    "/static/%2e%2e/%2e%2e/manage.py",
    "/static/css/..%5c..%5c..%5cmanage.py",
    "/static/css/app.css%00.py",
    "/marketdata/..%2f..%2fetc%2fpasswd/",
    "/api/v1/marketdata/instruments/..%2f..%2fetc%2fpasswd/",
    "/api/v1/marketdata/instruments/AAA%00/bars/",
    "/strategies/1%00/",
    "/backtests/1/equity.csv%00",
    "/%2e%2e/%2e%2e/etc/passwd",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_a_traversal_or_nul_in_a_path_reaches_no_file(world: World, settings, path):
    settings.WHITENOISE_USE_FINDERS = True
    client = Client()
    client.force_login(world.victim)
    response = client.get(path)
    assert response.status_code in (400, 404), (path, response.status_code)
    body = response.getvalue()
    assert b"SECRET_KEY" not in body and b"root:" not in body and b"DJANGO_SETTINGS" not in body
