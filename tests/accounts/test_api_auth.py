"""The auth API: register, token, refresh, verify, logout, me, password change and reset."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from rest_framework.test import APIClient

from accounts.models import Role, User
from tests.accounts.helpers import (
    LOGOUT,
    ME,
    PASSWORD_CHANGE,
    PASSWORD_RESET,
    PASSWORD_RESET_CONFIRM,
    REFRESH,
    REGISTER,
    VERIFY,
    assert_envelope,
    bearer,
    claims,
    obtain,
    tokens_for,
)
from tests.factories import DEFAULT_PASSWORD, TraderFactory

pytestmark = pytest.mark.django_db
GOOD = {"username": "alice", "email": "Alice@Example.com", "password": "Vq7-plover-tangent"}


def register(**overrides):
    return APIClient().post(REGISTER, {**GOOD, **overrides}, format="json")


# --- register -------------------------------------------------------------------------


def test_register_creates_a_trader_in_the_traders_group():
    response = register()
    assert response.status_code == 201
    body = response.json()
    assert body["username"] == "alice" and body["role"] == "trader"
    assert "password" not in body
    user = User.objects.get(username="alice")
    assert user.check_password(GOOD["password"])
    assert user.password.startswith(("md5$", "argon2"))
    assert list(user.groups.values_list("name", flat=True)) == ["Traders"]
    assert not user.is_staff


@pytest.mark.parametrize("missing", ["username", "email", "password"])
def test_register_rejects_a_missing_field(missing):
    data = {k: v for k, v in GOOD.items() if k != missing}
    error = assert_envelope(
        APIClient().post(REGISTER, data, format="json"), 400, "validation_error"
    )
    assert missing in error["details"]


@pytest.mark.parametrize("password", ["short1!", "password123", "1234567890123", "alice-example"])
def test_register_rejects_a_weak_password(password):
    error = assert_envelope(register(password=password), 400, "validation_error")
    assert "password" in error["details"]


def test_register_rejects_an_email_taken_in_another_case():
    TraderFactory(username="bob", email="alice@example.com")
    error = assert_envelope(register(email="ALICE@EXAMPLE.COM"), 400)
    assert "email" in error["details"]


def test_register_rejects_a_username_taken_in_another_case():
    TraderFactory(username="Alice")
    error = assert_envelope(register(email="new@example.com"), 400)
    assert "username" in error["details"]


@pytest.mark.parametrize("username", ["a@b.c", "has space", "x"])
def test_register_rejects_a_malformed_username(username):
    error = assert_envelope(register(username=username), 400)
    assert "username" in error["details"]


@pytest.mark.parametrize(
    "field,value", [("username", 12345), ("password", ["x"]), ("email", {"a": 1})]
)
def test_register_rejects_wrong_types(field, value):
    error = assert_envelope(register(**{field: value}), 400, "validation_error")
    assert field in error["details"]


def test_register_rejects_an_oversized_body():
    response = register(password="x" * 3_000_000)
    assert response.status_code in (400, 413)
    assert "error" in response.json()
    assert not User.objects.filter(username="alice").exists()


def test_register_rejects_an_overlong_field():
    assert_envelope(register(password="Vq7-" * 100), 400, "validation_error")


def test_register_ignores_role_and_staff_fields():
    register(role="operator", is_staff=True, is_superuser=True)
    user = User.objects.get(username="alice")
    assert (user.role, user.is_staff, user.is_superuser) == (Role.TRADER, False, False)


def test_register_can_be_switched_off(settings):
    settings.REGISTRATION_OPEN = False
    assert_envelope(register(), 403, "registration_closed")
    assert not User.objects.exists()


def test_register_rejects_a_non_json_body():
    response = APIClient().post(REGISTER, "{not json", content_type="application/json")
    assert_envelope(response, 400, "parse_error")


# --- token ----------------------------------------------------------------------------


def test_token_accepts_the_username_or_the_email_in_any_case(owner):
    for login in ("owner", "OWNER", "owner@example.com", "Owner@Example.COM"):
        response = obtain(APIClient(), login)
        assert response.status_code == 200, (login, response.json())
        body = response.json()
        assert set(body) == {"access", "refresh", "otp_verified"}
        assert claims(body["access"])["user_id"] == str(owner.pk)
        assert body["otp_verified"] is False
    owner.refresh_from_db()
    assert owner.last_login is not None


def test_token_rejects_a_wrong_password(owner):
    error = assert_envelope(obtain(APIClient(), "owner", "wrong-password-123"), 401)
    assert error["code"] == "authentication_failed"


def test_token_rejects_an_unknown_user_with_the_same_message(owner):
    unknown = assert_envelope(obtain(APIClient(), "nobody"), 401)
    wrong = assert_envelope(obtain(APIClient(), "owner", "nope-nope-nope"), 401)
    assert unknown["message"] == wrong["message"]


def test_token_rejects_an_inactive_user(owner):
    owner.is_active = False
    owner.save()
    assert_envelope(obtain(APIClient(), "owner"), 401, "authentication_failed")


@pytest.mark.parametrize("body", [{}, {"username": "owner"}, {"password": "x"}])
def test_token_rejects_missing_fields(owner, body):
    assert_envelope(APIClient().post("/api/v1/auth/token/", body, format="json"), 400)


def test_token_rejects_wrong_types(owner):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": ["owner"], "password": 1}, format="json"
    )
    error = assert_envelope(response, 400, "validation_error")
    assert set(error["details"]) == {"username", "password"}


# --- refresh, verify, logout -----------------------------------------------------------


def test_refresh_rotates_and_blacklists_the_old_refresh_token(owner):
    pair = tokens_for("owner")
    response = APIClient().post(REFRESH, {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 200
    new = response.json()
    assert set(new) == {"access", "refresh"} and new["refresh"] != pair["refresh"]
    assert claims(new["refresh"])["tv"] == 0
    again = APIClient().post(REFRESH, {"refresh": pair["refresh"]}, format="json")
    assert_envelope(again, 401, "token_revoked")  # reuse: the sign-in is revoked
    # Access tokens are not looked up per request; this one lives out its few minutes.
    assert bearer(new["access"]).get(ME).status_code == 200


def test_refresh_rejects_an_access_token(owner):
    pair = tokens_for("owner")
    response = APIClient().post(REFRESH, {"refresh": pair["access"]}, format="json")
    assert_envelope(response, 401)


def test_refresh_rejects_missing_and_garbage_input(owner):
    assert_envelope(APIClient().post(REFRESH, {}, format="json"), 400)
    assert_envelope(APIClient().post(REFRESH, {"refresh": "abc"}, format="json"), 401)


def test_verify_accepts_a_good_token_and_rejects_a_bad_one(owner):
    pair = tokens_for("owner")
    assert APIClient().post(VERIFY, {"token": pair["access"]}, format="json").status_code == 200
    bad = APIClient().post(VERIFY, {"token": pair["access"][:-3] + "abc"}, format="json")
    assert_envelope(bad, 401)


def test_logout_blacklists_the_refresh_token(owner):
    pair = tokens_for("owner")
    response = APIClient().post(LOGOUT, {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 204
    refresh = APIClient().post(REFRESH, {"refresh": pair["refresh"]}, format="json")
    assert_envelope(refresh, 401)
    verify = APIClient().post(VERIFY, {"token": pair["refresh"]}, format="json")
    assert_envelope(verify, 401)


def test_logout_rejects_a_bad_token():
    assert_envelope(APIClient().post(LOGOUT, {"refresh": "x.y.z"}, format="json"), 401)
    assert_envelope(APIClient().post(LOGOUT, {}, format="json"), 400)


# --- me ---------------------------------------------------------------------------------


def test_me_shows_the_user(owner):
    body = bearer(tokens_for("owner")["access"]).get(ME).json()
    assert body["username"] == "owner" and body["role"] == "trader"
    assert body["two_factor_enabled"] is False


def test_me_needs_authentication():
    assert_envelope(APIClient().get(ME), 401, "not_authenticated")


def test_me_patch_changes_only_whitelisted_fields(owner):
    client = bearer(tokens_for("owner")["access"])
    response = client.patch(
        ME,
        {"display_name": "The Owner", "role": "operator", "is_staff": True, "username": "x"},
        format="json",
    )
    assert response.status_code == 200
    owner.refresh_from_db()
    assert owner.display_name == "The Owner"
    assert (owner.role, owner.is_staff, owner.username) == ("trader", False, "owner")


def test_me_patch_rejects_an_email_used_by_someone_else(owner, other_user):
    client = bearer(tokens_for("owner")["access"])
    error = assert_envelope(client.patch(ME, {"email": "OTHER@example.com"}, format="json"), 400)
    assert "email" in error["details"]
    assert_envelope(client.patch(ME, {"email": "not-an-email"}, format="json"), 400)


# --- password change ---------------------------------------------------------------------


def test_password_change_revokes_old_tokens_and_returns_new_ones(owner):
    old = tokens_for("owner")
    response = bearer(old["access"]).post(
        PASSWORD_CHANGE,
        {"old_password": DEFAULT_PASSWORD, "new_password": "Brand-new-pass-77"},
        format="json",
    )
    assert response.status_code == 200
    new = response.json()
    assert_envelope(bearer(old["access"]).get(ME), 401, "token_revoked")
    assert_envelope(APIClient().post(REFRESH, {"refresh": old["refresh"]}, format="json"), 401)
    assert_envelope(APIClient().post(VERIFY, {"token": old["access"]}, format="json"), 401)
    assert bearer(new["access"]).get(ME).status_code == 200
    assert obtain(APIClient(), "owner", "Brand-new-pass-77").status_code == 200


def test_password_change_rejects_a_wrong_old_password_and_a_weak_new_one(owner):
    client = bearer(tokens_for("owner")["access"])
    wrong = client.post(
        PASSWORD_CHANGE,
        {"old_password": "nope", "new_password": "Brand-new-pass-77"},
        format="json",
    )
    assert "old_password" in assert_envelope(wrong, 400)["details"]
    weak = client.post(
        PASSWORD_CHANGE, {"old_password": DEFAULT_PASSWORD, "new_password": "123"}, format="json"
    )
    assert "new_password" in assert_envelope(weak, 400)["details"]
    assert_envelope(client.post(PASSWORD_CHANGE, {}, format="json"), 400)


def test_password_change_needs_authentication():
    assert_envelope(APIClient().post(PASSWORD_CHANGE, {}, format="json"), 401)


# --- password reset ----------------------------------------------------------------------


def _reset_link_parts() -> tuple[str, str]:
    match = re.search(r"/accounts/password/reset/([^/]+)/([^/]+)/", str(mail.outbox[-1].body))
    assert match, mail.outbox[-1].body
    return match.group(1), match.group(2)


def test_password_reset_emails_a_link_that_sets_the_password_once(owner):
    old = tokens_for("owner")
    response = APIClient().post(PASSWORD_RESET, {"email": "OWNER@example.com"}, format="json")
    assert response.status_code == 202
    assert mail.outbox[-1].to == ["owner@example.com"]
    uid, token = _reset_link_parts()
    body = {"uid": uid, "token": token, "new_password": "Reset-pass-9911"}
    assert APIClient().post(PASSWORD_RESET_CONFIRM, body, format="json").status_code == 204
    assert obtain(APIClient(), "owner", "Reset-pass-9911").status_code == 200
    assert_envelope(bearer(old["access"]).get(ME), 401, "token_revoked")
    reused = APIClient().post(PASSWORD_RESET_CONFIRM, body, format="json")
    assert "token" in assert_envelope(reused, 400)["details"]


def test_password_reset_is_silent_for_an_unknown_email():
    response = APIClient().post(PASSWORD_RESET, {"email": "ghost@example.com"}, format="json")
    assert response.status_code == 202
    assert mail.outbox == []


def test_password_reset_rejects_bad_input(owner):
    assert_envelope(APIClient().post(PASSWORD_RESET, {"email": "nope"}, format="json"), 400)
    bad = {"uid": "zzz", "token": "abc", "new_password": "Reset-pass-9911"}
    assert_envelope(APIClient().post(PASSWORD_RESET_CONFIRM, bad, format="json"), 400)
    APIClient().post(PASSWORD_RESET, {"email": "owner@example.com"}, format="json")
    uid, token = _reset_link_parts()
    weak = {"uid": uid, "token": token, "new_password": "short"}
    resp = APIClient().post(PASSWORD_RESET_CONFIRM, weak, format="json")
    assert "new_password" in assert_envelope(resp, 400)["details"]
