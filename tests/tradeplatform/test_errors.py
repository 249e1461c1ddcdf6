"""Every API error speaks the same envelope; pages get friendly templates; no secrets leak."""

import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.tradeplatform.urls_errors")]


def assert_envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["request_id"] == response["X-Request-ID"]
    return error


def test_validation_error_is_400_with_field_details(client):
    response = client.post("/api/t/validate/", {"quantity": 0}, content_type="application/json")
    error = assert_envelope(response, 400, "validation_error")
    assert "quantity" in error["details"]


def test_malformed_json_is_400_parse_error(client):
    response = client.post("/api/t/validate/", "{not json", content_type="application/json")
    assert_envelope(response, 400, "parse_error")


def test_missing_credentials_is_401(client):
    assert_envelope(client.get("/api/t/private/"), 401, "not_authenticated")


def test_permission_denied_is_403(client):
    assert_envelope(client.get("/api/t/forbidden/"), 403, "permission_denied")


def test_unknown_api_url_is_404_envelope(client):
    assert_envelope(client.get("/api/v1/no-such-thing/"), 404, "not_found")


def test_wrong_method_is_405(client):
    assert_envelope(client.get("/api/t/validate/"), 405, "method_not_allowed")


def test_conflict_is_409(client):
    assert_envelope(client.get("/api/t/conflict/"), 409, "conflict")


@pytest.mark.parametrize(
    ("url", "retry_after"), [("/api/t/throttled/", "18"), ("/api/t/limited/", "42")]
)
def test_rate_limited_is_429_with_retry_after(client, url, retry_after):
    response = client.get(url)
    assert response.status_code == 429
    assert response["Retry-After"] == retry_after
    assert response.json()["error"]["code"] in ("throttled", "rate_limited")


def test_unhandled_exception_is_500_naming_only_the_request_id(client, caplog):
    client.raise_request_exception = False
    with caplog.at_level("ERROR", logger="tradeplatform.errors"):
        response = client.get("/api/t/crash/", HTTP_X_REQUEST_ID="trace-500-abcdef")
    error = assert_envelope(response, 500, "internal_error")
    assert error["request_id"] == "trace-500-abcdef"
    assert "hunter2" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    logged = [r for r in caplog.records if r.name == "tradeplatform.errors"]
    assert logged and logged[0].exc_info is not None


def test_html_pages_get_friendly_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert b"Page not found" in response.content


def test_html_pages_get_friendly_500_without_the_traceback(client):
    client.raise_request_exception = False
    response = client.get("/page/crash/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body
    assert "hunter2" not in body
    assert response["X-Request-ID"] in body


def test_an_oversized_body_is_413_not_500(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = client.post(
        "/api/t/validate/", {"quantity": 1, "pad": "x" * 500}, content_type="application/json"
    )
    assert_envelope(response, 413, "request_too_large")
