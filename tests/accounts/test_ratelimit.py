"""Rate limits: per IP and per user on the API, strict on sign-in, lockout, Redis down."""

from __future__ import annotations

from unittest import mock

import pytest
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from tests.accounts.helpers import ME, TOKEN, assert_envelope, bearer, obtain, tokens_for
from tests.factories import DEFAULT_PASSWORD, totp_code, totp_device_for
from tradeplatform.ratelimit import RATELIMIT_REJECTIONS, client_ip

pytestmark = pytest.mark.django_db


@pytest.fixture
def tight(settings):
    settings.RATELIMIT_API_RATE = "3/m"
    settings.RATELIMIT_AUTH_RATE = "2/m"
    return settings


def _rejections(endpoint: str) -> float:
    return RATELIMIT_REJECTIONS.labels(endpoint)._value.get()


def test_the_api_limit_answers_429_with_retry_after_and_counts_it(tight):
    before = _rejections("auth-me")
    client = APIClient()
    statuses = [client.get(ME).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    error = assert_envelope(client.get(ME), 429, "rate_limited")
    response = client.get(ME)
    assert 1 <= int(response["Retry-After"]) <= 60
    assert error["details"] == {"limit": "3/m"}
    assert _rejections("auth-me") == before + 2


def test_each_ip_has_its_own_budget(tight):
    for _ in range(3):
        APIClient().get(ME, REMOTE_ADDR="10.0.0.1")
    assert APIClient().get(ME, REMOTE_ADDR="10.0.0.1").status_code == 429
    assert APIClient().get(ME, REMOTE_ADDR="10.0.0.2").status_code == 401


def test_an_authenticated_user_is_limited_across_ips(tight, owner):
    access = tokens_for("owner")["access"]
    for n in range(3):
        assert bearer(access).get(ME, REMOTE_ADDR=f"10.0.1.{n}").status_code == 200
    assert_envelope(bearer(access).get(ME, REMOTE_ADDR="10.0.1.99"), 429)


def test_health_and_metrics_are_exempt(tight):
    for _ in range(5):
        assert APIClient().get("/live").status_code == 200


def test_sign_in_is_limited_per_ip(tight, owner):
    assert obtain(APIClient(), "owner").status_code == 200
    assert obtain(APIClient(), "owner").status_code == 200
    response = obtain(APIClient(), "owner")
    assert_envelope(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1


def test_sign_in_is_limited_per_username_across_ips(settings, owner):
    settings.RATELIMIT_AUTH_RATE = "2/m"
    for n in range(2):
        assert obtain(APIClient(), "owner", remote_addr=f"10.2.0.{n}").status_code == 200
    response = obtain(APIClient(), "owner", remote_addr="10.2.0.50")
    assert_envelope(response, 429, "rate_limited")


def test_repeated_failures_lock_the_account_even_for_the_right_password(settings, owner):
    settings.LOGIN_LOCKOUT_FAILURES = 3
    settings.RATELIMIT_AUTH_RATE = "100/m"
    for n in range(3):
        obtain(APIClient(), "owner", "wrong-password-1", remote_addr=f"10.3.0.{n}")
    response = obtain(APIClient(), "owner", remote_addr="10.3.0.99")
    assert_envelope(response, 429, "account_locked")
    assert int(response["Retry-After"]) > 0


def test_failed_logins_are_logged_without_the_password(owner, caplog):
    with caplog.at_level("WARNING", logger="tradeplatform.security"):
        obtain(APIClient(), "owner", "Sup3r-secret-guess")
    records = [r for r in caplog.records if getattr(r, "event", "") == "login_failed"]
    assert records and records[0].login == "owner"
    assert "Sup3r-secret-guess" not in caplog.text


def test_the_client_ip_ignores_forwarded_for_unless_proxies_are_trusted(settings):
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="6.6.6.6, 1.2.3.4"
    )
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.9.9.9"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "1.2.3.4"  # the address our one proxy saw, not the spoof
    settings.TRUSTED_PROXY_COUNT = 3
    assert client_ip(request) == "10.9.9.9"  # fewer hops than proxies: do not guess


def _broken_cache():
    from django.core.cache import cache

    return mock.patch.object(cache, "add", side_effect=ConnectionError("redis down"))


def test_when_the_cache_is_down_the_api_fails_open(owner):
    client = bearer(tokens_for("owner")["access"])
    with _broken_cache():
        assert client.get(ME).status_code == 200


def test_when_the_cache_is_down_sign_in_fails_closed(owner):
    with _broken_cache():
        response = APIClient().post(TOKEN, {"username": "owner", "password": "x"}, format="json")
    assert_envelope(response, 503, "dependency_unavailable")
    assert int(response["Retry-After"]) > 0


def test_when_the_cache_is_down_the_sign_in_form_answers_the_503_page(owner, client):
    with _broken_cache():
        response = client.post("/accounts/login/", {"username": "owner", "password": "x"})
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")  # a page, not the API envelope
    assert int(response["Retry-After"]) > 0
    body = response.content.decode()
    assert "Sign-in is temporarily unavailable" in body and response["X-Request-ID"] in body
    assert "sessionid" not in response.cookies


@pytest.fixture
def lockout_after_three(settings):
    settings.LOGIN_LOCKOUT_FAILURES = 3
    settings.RATELIMIT_AUTH_RATE = "100/m"
    return settings


@pytest.mark.parametrize(
    "failed_as,then_as",
    [
        ("owner", "owner@example.com"),
        ("owner@example.com", "owner"),
        ("OWNER", "Owner@Example.COM"),
        ("Owner@Example.com", "oWnEr"),
    ],
)
def test_a_locked_account_stays_locked_under_every_alias(
    lockout_after_three, owner, failed_as, then_as
):
    for n in range(3):
        obtain(APIClient(), failed_as, "wrong-password-1", remote_addr=f"10.4.0.{n}")
    response = obtain(APIClient(), then_as, remote_addr="10.4.0.99")
    assert_envelope(response, 429, "account_locked")


def test_failures_under_different_aliases_add_up_to_one_lockout(lockout_after_three, owner):
    for n, alias in enumerate(["owner", "owner@example.com", "OWNER@example.com"]):
        obtain(APIClient(), alias, "wrong-password-1", remote_addr=f"10.5.0.{n}")
    assert_envelope(obtain(APIClient(), "owner", remote_addr="10.5.0.99"), 429, "account_locked")


def test_one_ip_is_still_locked_whatever_names_it_tries(lockout_after_three, owner, other_user):
    for name in ["nobody-1", "nobody-2", "other"]:
        obtain(APIClient(), name, "wrong-password-1", remote_addr="10.6.0.1")
    assert_envelope(obtain(APIClient(), "owner", remote_addr="10.6.0.1"), 429, "account_locked")
    assert obtain(APIClient(), "owner", remote_addr="10.6.0.2").status_code == 200


def test_a_lockout_of_one_account_does_not_lock_another(lockout_after_three, owner, other_user):
    for n in range(3):
        obtain(APIClient(), "other", "wrong-password-1", remote_addr=f"10.8.0.{n}")
    assert obtain(APIClient(), "owner@example.com", remote_addr="10.8.0.99").status_code == 200


# --- the admin's own sign-in form ------------------------------------------------------


@pytest.fixture
def operator_device(operator):
    return totp_device_for(operator)


def _admin_sign_in(device, password: str, ip: str) -> Client:
    client = Client(REMOTE_ADDR=ip)
    form = {
        "username": device.user.username,
        "password": password,
        "otp_device": device.persistent_id,
        "otp_token": totp_code(device),
    }
    client.post("/admin/login/?next=/admin/", form)
    return client


def test_the_admin_sign_in_admits_a_verified_operator(lockout_after_three, operator_device):
    client = _admin_sign_in(operator_device, DEFAULT_PASSWORD, "10.9.0.1")
    assert client.get("/admin/").status_code == 200


def test_the_admin_sign_in_honours_the_account_lockout(lockout_after_three, operator_device):
    for n in range(3):
        obtain(APIClient(), "operator@example.com", "wrong-password-1", remote_addr=f"10.9.1.{n}")
    client = _admin_sign_in(operator_device, DEFAULT_PASSWORD, "10.9.1.99")
    assert client.get("/admin/").status_code == 302  # no session: back to the sign-in


def test_failed_admin_sign_ins_count_towards_the_account_lockout(
    lockout_after_three, operator_device
):
    for n in range(3):
        _admin_sign_in(operator_device, "wrong-password-1", f"10.9.2.{n}")
    assert_envelope(obtain(APIClient(), "operator", remote_addr="10.9.2.99"), 429, "account_locked")
