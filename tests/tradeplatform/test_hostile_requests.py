"""Hostile requests against the real stack (gunicorn + the project's config): never a 500.

Issue 10, section 2: a deeply nested JSON body, more than 1,000 query parameters or form
fields and a NUL byte in the path were 500s anyone could cause; after a 413 the next request
on the connection was lost; a chunked body was read as empty; static files had no
X-Frame-Options.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import threading
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from tests.factories import DEFAULT_PASSWORD, TraderFactory
from tests.tradeplatform.gunicorn_server import (
    PROJECT_ROOT,
    Gunicorn,
    RawResponse,
    connect,
    exchange,
    gunicorn_start,
    gunicorn_stop,
    read_response,
    request_bytes,
    server_closed,
)

# Anonymous endpoints that parse a JSON body.
ANONYMOUS_JSON_ENDPOINTS = [
    "/api/v1/auth/token/",
    "/api/v1/auth/register/",
    "/api/v1/auth/token/refresh/",
    "/api/v1/auth/password/reset/",
]
TOO_MANY_FIELDS = 1001  # Django's DATA_UPLOAD_MAX_NUMBER_FIELDS is 1,000
BODY_LIMIT = 2_621_440  # DATA_UPLOAD_MAX_MEMORY_SIZE's default


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Gunicorn]:
    tmp = tmp_path_factory.mktemp("gunicorn-hostile")
    # What `make run` does before serving (collectstatic), for the one file the tests fetch.
    static_root = tmp / "var" / "staticfiles" / "css"
    static_root.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "static" / "css" / "app.css", static_root / "app.css")
    # Many requests come from one address in a few seconds: the limits are not under test.
    env = {"RATELIMIT_API_RATE": "10000/m", "RATELIMIT_AUTH_RATE": "10000/m"}
    with django_db_blocker.unblock():
        started = gunicorn_start(tmp, env)
    try:
        yield started
    finally:
        gunicorn_stop(started)


def post_json(server: Gunicorn, path: str, body: bytes, **headers: str) -> RawResponse:
    headers = {"Content-Type": "application/json", "Connection": "close", **headers}
    return exchange(server, request_bytes("POST", path, body=body, headers=headers))


def get(server: Gunicorn, path: str, **headers: str) -> RawResponse:
    return exchange(server, request_bytes("GET", path, headers={"Connection": "close", **headers}))


def error_code(response: RawResponse) -> str:
    assert response.headers["content-type"].startswith("application/json"), response.body[:300]
    return str(json.loads(response.body)["error"]["code"])


@pytest.mark.parametrize("path", ANONYMOUS_JSON_ENDPOINTS)
def test_a_deeply_nested_json_body_is_a_400_envelope(server, path):
    response = post_json(server, path, b"[" * 100_000)
    assert response.status == 400
    assert error_code(response) == "parse_error"


@pytest.mark.parametrize("path", ["/api/v1/auth/token/", "/api/v1/marketdata/instruments/"])
def test_more_than_a_thousand_query_parameters_is_a_400_envelope(server, path):
    query = "&".join(["a"] * TOO_MANY_FIELDS)
    response = post_json(server, f"{path}?{query}", b"{}")
    assert response.status == 400
    assert error_code(response) == "bad_request"


def test_more_than_a_thousand_query_parameters_on_a_page_is_the_400_page(server):
    response = get(server, "/accounts/login/?" + "&".join(["a"] * TOO_MANY_FIELDS))
    assert response.status == 400
    assert response.headers["content-type"].startswith("text/html")


def test_more_than_a_thousand_form_fields_on_the_sign_in_form_is_the_400_page(server):
    cookie, token = csrf_cookie_and_token(server)
    fields = [("csrfmiddlewaretoken", token), *[("a", "")] * TOO_MANY_FIELDS]
    response = exchange(server, form_post("/accounts/login/", fields, cookie))
    assert response.status == 400
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/marketdata/instruments/%00/",
        "/api/v1/marketdata/instruments/%00/bars/",
        "/api/v1/strategies/%00/",
    ],
)
def test_a_nul_byte_in_an_api_path_is_a_400_envelope_signed_in_or_not(
    server, transactional_db, path
):
    TraderFactory(username="nul-tester")
    signed_in = post_json(
        server,
        "/api/v1/auth/token/",
        json.dumps({"username": "nul-tester", "password": DEFAULT_PASSWORD}).encode(),
    )
    access = json.loads(signed_in.body)["access"]
    for headers in ({}, {"Authorization": f"Bearer {access}"}):
        response = get(server, path, **headers)
        assert response.status == 400, response.body[:300]
        assert error_code(response) == "bad_request"


@pytest.mark.parametrize("path", ["/strategies/%00/", "/backtests/?status=%00"])
def test_a_nul_byte_in_a_page_url_is_the_400_page(server, transactional_db, path):
    TraderFactory(username="nul-page")
    cookie, token = csrf_cookie_and_token(server)
    fields = [
        ("csrfmiddlewaretoken", token),
        ("username", "nul-page"),
        ("password", DEFAULT_PASSWORD),
    ]
    signed_in = exchange(server, form_post("/accounts/login/", fields, cookie))
    assert signed_in.status == 302
    session = cookie_value(signed_in, "sessionid")
    response = get(server, path, Cookie=f"sessionid={session}")
    assert response.status == 400
    assert b"Traceback" not in response.body


def test_after_a_413_the_connection_is_closed_or_answers_the_next_request(server):
    body = b"x" * (BODY_LIMIT + 1_000_000)
    head = request_bytes(
        "POST",
        "/api/v1/auth/token/",
        headers={"Content-Type": "application/json", "Content-Length": str(len(body))},
    )
    with connect(server) as sock:
        sock.sendall(head)
        # The client keeps sending its body while the server answers, as real clients do.
        sender = threading.Thread(target=send_ignoring_errors, args=(sock, body), daemon=True)
        sender.start()
        response = read_response(sock)
        assert response is not None and response.status == 413
        assert error_code(response) == "request_too_large"
        sender.join(timeout=10)
        if response.headers.get("connection", "").lower() == "close":
            assert server_closed(sock)
        else:  # the response promised keep-alive: the next request on it is answered
            try:
                sock.sendall(request_bytes("GET", "/live"))
                following = read_response(sock)
            except OSError:
                following = None
            assert following is not None, "keep-alive was promised, the next request was dropped"
            assert following.status == 200


def test_a_chunked_json_body_is_refused_with_411_not_read_as_empty(server):
    payload = json.dumps({"username": "nobody", "password": "not-the-password"}).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload)
    head = request_bytes(
        "POST",
        "/api/v1/auth/token/",
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
    )
    with connect(server) as sock:
        sock.sendall(head + chunked)
        response = read_response(sock)
        assert response is not None
        assert response.status == 411
        assert error_code(response) == "length_required"
        assert response.headers["connection"].lower() == "close"
        assert server_closed(sock)


def test_static_files_carry_the_security_headers(server):
    response = get(server, "/static/css/app.css")
    assert response.status == 200
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def send_ignoring_errors(sock, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the server closes the connection after answering
        sock.sendall(data)


def csrf_cookie_and_token(server: Gunicorn) -> tuple[str, str]:
    page = get(server, "/accounts/login/")
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
    assert match, "the sign-in form has no CSRF token"
    return cookie_value(page, "csrftoken"), match.group(1).decode()


def cookie_value(response: RawResponse, name: str) -> str:
    match = re.search(rf"{name}=([^;]+)", response.headers.get("set-cookie", ""))
    assert match, f"no {name} cookie in {response.headers}"
    return match.group(1)


def form_post(path: str, fields: list[tuple[str, str]], csrf_cookie: str) -> bytes:
    body = urlencode(fields).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"csrftoken={csrf_cookie}",
        "Connection": "close",
    }
    return request_bytes("POST", path, body=body, headers=headers)
