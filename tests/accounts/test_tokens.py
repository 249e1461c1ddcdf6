"""Token attacks and revocation: every bad token is a 401 in the error envelope."""

from __future__ import annotations

import time

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts import services
from tests.accounts.helpers import (
    ME,
    REFRESH,
    VERIFY,
    assert_envelope,
    bearer,
    claims,
    forge,
    tokens_for,
)

pytestmark = pytest.mark.django_db


def _payload(token: str) -> dict:
    return claims(token)


def _sign(payload: dict, key: str = "", algorithm: str = "HS256", **headers) -> str:
    return jwt.encode(payload, key or settings.SIMPLE_JWT["SIGNING_KEY"], algorithm, headers)


def test_a_valid_access_token_authenticates(owner):
    assert bearer(tokens_for("owner")["access"]).get(ME).status_code == 200


def test_alg_none_is_refused(owner):
    payload = _payload(tokens_for("owner")["access"])
    token = forge({"alg": "none", "typ": "JWT"}, payload)
    assert_envelope(bearer(token).get(ME), 401, "token_not_valid")
    assert_envelope(APIClient().post(VERIFY, {"token": token}, format="json"), 401)


def test_another_hmac_algorithm_with_the_right_key_is_refused(owner):
    payload = _payload(tokens_for("owner")["access"])
    token = _sign(payload, algorithm="HS512")
    assert_envelope(bearer(token).get(ME), 401, "token_not_valid")


def test_rs256_header_confusion_is_refused(owner):
    payload = _payload(tokens_for("owner")["access"])
    # A token claiming RS256 but HMAC-signed with the shared key (the classic confusion).
    token = forge({"alg": "RS256", "typ": "JWT"}, payload, signature=b"x" * 32)
    assert_envelope(bearer(token).get(ME), 401, "token_not_valid")


def test_a_bad_signature_is_refused(owner):
    payload = _payload(tokens_for("owner")["access"])
    token = _sign(payload, key="not-the-signing-key-" + "y" * 40)
    assert_envelope(bearer(token).get(ME), 401, "token_not_valid")
    payload["user_id"] = "999"
    tampered = forge({"alg": "HS256", "typ": "JWT"}, payload, signature=b"z" * 32)
    assert_envelope(bearer(tampered).get(ME), 401, "token_not_valid")


def test_an_expired_token_is_refused(owner):
    payload = _payload(tokens_for("owner")["access"])
    payload["exp"] = int(time.time()) - 10
    assert_envelope(bearer(_sign(payload)).get(ME), 401, "token_not_valid")


def test_a_blacklisted_refresh_jti_is_refused(owner):
    pair = tokens_for("owner")
    APIClient().post("/api/v1/auth/logout/", {"refresh": pair["refresh"]}, format="json")
    assert_envelope(APIClient().post(REFRESH, {"refresh": pair["refresh"]}, format="json"), 401)


def test_a_refresh_token_is_not_an_access_token(owner):
    assert_envelope(bearer(tokens_for("owner")["refresh"]).get(ME), 401, "token_not_valid")


def test_a_garbage_header_is_refused():
    assert_envelope(bearer("not.a.jwt").get(ME), 401)


def test_deactivation_invalidates_every_token(owner):
    pair = tokens_for("owner")
    services.user_deactivate(user=owner)
    assert_envelope(bearer(pair["access"]).get(ME), 401)
    assert_envelope(APIClient().post(REFRESH, {"refresh": pair["refresh"]}, format="json"), 401)
    assert_envelope(APIClient().post(VERIFY, {"token": pair["access"]}, format="json"), 401)


def test_a_token_from_before_a_password_change_is_revoked(owner):
    pair = tokens_for("owner")
    services.user_set_password(user=owner, new_password="Another-secret-55")
    assert_envelope(bearer(pair["access"]).get(ME), 401, "token_revoked")
    assert_envelope(APIClient().post(REFRESH, {"refresh": pair["refresh"]}, format="json"), 401)


def test_refreshed_tokens_keep_the_version_and_otp_claims(owner):
    pair = tokens_for("owner")
    new = APIClient().post(REFRESH, {"refresh": pair["refresh"]}, format="json").json()
    assert claims(new["access"])["tv"] == 0
    assert claims(new["access"])["otp_verified"] is False
