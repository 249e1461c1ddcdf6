"""Operators and the admin: createsuperuser makes an operator, the admin's sign-in says where
to turn two-factor on, and the admin's headings read as English."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client

from accounts.access import has_operator_access, mark_otp_verified
from accounts.models import Role, User
from tests.factories import DEFAULT_PASSWORD, totp_code, totp_device_for

pytestmark = pytest.mark.django_db


def _create_superuser(monkeypatch: pytest.MonkeyPatch, username: str = "boss") -> User:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", DEFAULT_PASSWORD)
    call_command(
        "createsuperuser", interactive=False, username=username, email=f"{username}@example.com"
    )
    return User.objects.get(username=username)


def test_createsuperuser_makes_an_operator_by_role_and_group(monkeypatch):
    user = _create_superuser(monkeypatch)

    assert user.role == Role.OPERATOR
    assert user.is_staff and user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == ["Operators"]
    assert not Group.objects.get(name="Traders").user_set.filter(pk=user.pk).exists()


def test_a_createsuperuser_operator_has_operator_access_once_verified(monkeypatch):
    user = _create_superuser(monkeypatch)
    assert user.is_operator
    assert not has_operator_access(user)  # a password alone is not enough
    mark_otp_verified(user)
    assert has_operator_access(user)


def test_the_api_reports_a_createsuperuser_account_as_an_operator(monkeypatch):
    from tests.accounts.helpers import ME, bearer, tokens_for

    _create_superuser(monkeypatch)
    body = bearer(tokens_for("boss")["access"]).get(ME).json()
    assert body["role"] == "operator"
    assert body["is_operator"] is True


def test_the_admin_sign_in_explains_where_to_turn_two_factor_on(client):
    body = client.get("/admin/login/?next=/admin/").content.decode()
    assert "The admin needs two-factor authentication" in body
    assert 'href="/accounts/2fa/"' in body
    assert "Two-factor code" in body
    assert "OTP Token" not in body


def test_the_admin_sign_in_offers_the_code_page_to_a_signed_in_operator(operator):
    client = Client()
    client.force_login(operator)
    body = client.get("/admin/login/?next=/admin/").content.decode()
    assert "/accounts/2fa/verify/?next=" in body


def _admin_client_for(user: User) -> Client:
    """A session signed in through the admin's own form, with a real TOTP code."""
    device = totp_device_for(user)
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": user.username, "password": DEFAULT_PASSWORD, "otp_token": totp_code(device)},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return client


def test_the_admin_index_reads_as_english(superuser):
    body = _admin_client_for(superuser).get("/admin/").content.decode()

    for heading in (
        "Strategies",
        "Strategy versions",
        "Backtesting",
        "Backtests",
        "Webhooks",
        "Webhook deliveries",
        "Dead letters",
        "Market data",
        "Instruments",
        "Bars",
        "Series versions",
        "Two-factor devices",
        "Users",
    ):
        assert f">{heading}<" in body, heading
    for code_name in ("Strategys", "deliverys", "Otp_Totp", "Django_Otp", "Webhookdelivery"):
        assert code_name not in body, code_name


def test_the_admin_sign_in_with_a_code_opens_the_admin_for_an_operator(operator):
    response = _admin_client_for(operator).get("/admin/")
    assert response.status_code == 200
    assert "Operators&#x27; console" in response.content.decode()


def test_the_admin_sign_in_tells_an_operator_without_two_factor_where_to_enrol(operator):
    response = Client().post(
        "/admin/login/?next=/admin/",
        {"username": "operator", "password": DEFAULT_PASSWORD, "otp_token": "123456"},
    )
    assert response.status_code == 200
    assert "turn it on at /accounts/2fa/ first" in response.content.decode()
