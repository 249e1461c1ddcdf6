"""Security headers on API and HTML responses alike."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/", "/api/v1/no-such-endpoint/", "/live", "/no-such-page/"])
def test_every_response_carries_the_security_headers(client, url):
    response = client.get(url)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response["X-XSS-Protection"] == "0"
    csp = response["Content-Security-Policy"]
    assert "script-src 'self';" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp


def test_api_docs_allow_inline_styles_but_never_inline_scripts(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "script-src 'self';" in csp
    assert "style-src 'self' 'unsafe-inline'" in csp
    assert b"<script>" not in response.content  # the initialiser is a separate same-origin file


def test_hsts_is_sent_over_https_when_configured(client, settings):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    response = client.get("/live", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_openapi_schema_and_docs_are_served_locally(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"openapi" in schema.content
    redoc = client.get("/api/redoc/").content.decode()
    assert "cdn" not in redoc.lower() and "/static/drf_spectacular_sidecar/" in redoc
