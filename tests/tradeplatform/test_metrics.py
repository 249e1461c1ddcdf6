"""/metrics exposes request metrics in Prometheus format, only to allowed scrapers."""

import pytest

pytestmark = pytest.mark.django_db


def test_metrics_count_requests_by_view_and_status(client):
    client.get("/live")
    body = client.get("/metrics").content.decode()
    assert "django_http_requests_total_by_view_transport_method_total" in body
    assert 'view="live"' in body
    assert "django_http_responses_total_by_status_total" in body
    assert "django_http_requests_latency_seconds_by_view_method" in body
    assert "tradeplatform_disk_bytes" in body
    assert "tradeplatform_process_max_resident_memory_bytes" in body


def test_metrics_are_refused_outside_the_allowed_networks(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_a_bearer_token_opens_metrics_from_anywhere(client, settings):
    settings.METRICS_BEARER_TOKEN = "scrape-token-123"
    ok = client.get(
        "/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer scrape-token-123"
    )
    bad = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer wrong")
    assert ok.status_code == 200
    assert bad.status_code == 403
