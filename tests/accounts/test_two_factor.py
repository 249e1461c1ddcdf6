"""TOTP: enrolment, sign-in with a code, operators need it for operator APIs and the admin."""

from __future__ import annotations

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from tests.accounts.helpers import (
    ME,
    TWO_FACTOR,
    TWO_FACTOR_CONFIRM,
    TWO_FACTOR_DISABLE,
    assert_envelope,
    bearer,
    claims,
    obtain,
    tokens_for,
)
from tests.factories import DEFAULT_PASSWORD, totp_code, totp_device_for

pytestmark = pytest.mark.django_db


def unthrottle(device: TOTPDevice) -> None:
    """A wrong code throttles the device for a while (django-otp); tests move on at once."""
    device.refresh_from_db()
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.save()


def test_enrolment_returns_a_secret_and_an_svg_qr_code_then_confirms(owner):
    client = bearer(tokens_for("owner")["access"])
    response = client.post(TWO_FACTOR)
    assert response.status_code == 201
    body = response.json()
    assert body["otpauth_url"].startswith("otpauth://totp/")
    assert body["qr_data_uri"].startswith("data:image/svg+xml;base64,")
    device = TOTPDevice.objects.get(user=owner, confirmed=False)
    assert_envelope(client.post(TWO_FACTOR_CONFIRM, {"otp": "000000"}, format="json"), 400)
    unthrottle(device)
    confirmed = client.post(TWO_FACTOR_CONFIRM, {"otp": totp_code(device)}, format="json")
    assert confirmed.status_code == 200
    assert claims(confirmed.json()["access"])["otp_verified"] is True
    assert client.get(TWO_FACTOR).json()["enabled"] is True
    assert_envelope(client.post(TWO_FACTOR), 409, "conflict")


def test_sign_in_asks_for_the_code_once_two_factor_is_on(owner):
    device = totp_device_for(owner)
    assert_envelope(obtain(APIClient(), "owner"), 401, "otp_required")
    assert_envelope(obtain(APIClient(), "owner", otp="123456"), 401, "authentication_failed")
    unthrottle(device)
    response = obtain(APIClient(), "owner", otp=totp_code(device))
    assert response.status_code == 200
    assert response.json()["otp_verified"] is True


def test_disabling_needs_a_valid_code(owner):
    device = totp_device_for(owner)
    pair = obtain(APIClient(), "owner", otp=totp_code(device)).json()
    client = bearer(pair["access"])
    assert_envelope(client.post(TWO_FACTOR_DISABLE, {"otp": "abc"}, format="json"), 400)
    assert TOTPDevice.objects.filter(user=owner).exists()
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)  # a code works once; rewind
    response = client.post(TWO_FACTOR_DISABLE, {"otp": totp_code(device)}, format="json")
    assert response.status_code == 204
    assert not TOTPDevice.objects.filter(user=owner).exists()


def test_an_operator_without_a_verified_token_is_refused_operator_powers(operator, owner):
    pair = tokens_for("operator")
    assert pair["otp_verified"] is False
    assert bearer(pair["access"]).get(ME).status_code == 200  # still a user
    device = totp_device_for(operator)
    verified = obtain(APIClient(), "operator", otp=totp_code(device)).json()
    assert claims(verified["access"])["otp_verified"] is True


def test_two_factor_status_says_operators_need_it(operator):
    body = bearer(tokens_for("operator")["access"]).get(TWO_FACTOR).json()
    assert body == {"enabled": False, "verified": False, "required": True}


# --- the admin -------------------------------------------------------------------------


def test_the_admin_refuses_an_operator_without_two_factor(operator):
    client = Client()
    client.force_login(operator)
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_admin_refuses_a_superuser_without_two_factor(superuser):
    client = Client()
    client.force_login(superuser)
    assert client.get("/admin/").status_code == 302


def test_the_admin_admits_an_operator_after_browser_sign_in_with_a_code(operator):
    device = totp_device_for(operator)
    client = Client()
    response = client.post(
        "/accounts/login/",
        {"username": "operator", "password": DEFAULT_PASSWORD, "otp": totp_code(device)},
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
    page = client.get("/admin/accounts/user/")
    assert page.status_code == 200 and b"operator" in page.content


def test_the_admin_refuses_traders_even_with_two_factor(owner):
    device = totp_device_for(owner)
    client = Client()
    client.post(
        "/accounts/login/",
        {"username": "owner", "password": DEFAULT_PASSWORD, "otp": totp_code(device)},
    )
    assert client.get("/admin/").status_code == 302
