"""JWT tampering beyond tests/accounts/test_tokens.py, and brute force on every sign-in form.

test_tokens.py covers alg none, HS512, an RS256 header on an HMAC token, bad signatures,
expiry, the blacklist, deactivation and a password change through the service;
test_token_rotation.py the same refresh token used from eight threads (exactly one wins).
Here: tokens properly signed with other algorithms and an attacker's keys, a token missing
its version claim or naming someone else, tokens after a password change made on the page,
after logout and after deactivation from the admin's action; then the lockout on the sign-in
page and the admin's (the API's is in test_ratelimit.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from accounts import services
from tests.accounts.helpers import (
    ME,
    REFRESH,
    assert_envelope,
    b64,
    bearer,
    claims,
    forge,
    tokens_for,
)
from tests.factories import DEFAULT_PASSWORD, TraderFactory

pytestmark = pytest.mark.django_db
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def trader(db) -> Any:
    return TraderFactory(username="trader")


def _payload() -> dict[str, Any]:
    return claims(tokens_for("trader")["access"])


@pytest.mark.parametrize(
    ("algorithm", "key"),
    [("RS256", RSA_KEY), ("PS256", RSA_KEY), ("ES256", EC_KEY), ("HS384", None)],
    ids=["RS256", "PS256", "ES256", "HS384"],
)
def test_a_token_signed_with_another_algorithm_is_refused(trader, algorithm, key):
    secret = key or settings.SIMPLE_JWT["SIGNING_KEY"]  # HS384: even with our own key
    token = jwt.encode(_payload(), secret, algorithm)
    assert_envelope(bearer(token).get(ME), 401, "token_not_valid")


def test_an_hs256_token_signed_with_the_public_half_of_a_key_is_refused(trader):
    from cryptography.hazmat.primitives import serialization

    public_pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # PyJWT refuses to sign with a PEM as an HMAC secret; an attacker signs by hand.
    signature = hmac.new(public_pem, _signing_input(_payload()), hashlib.sha256).digest()
    token = forge({"alg": "HS256", "typ": "JWT"}, _payload(), signature)
    assert_envelope(bearer(token).get(ME), 401, "token_not_valid")


def _signing_input(payload: dict[str, Any]) -> bytes:
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    return f"{head}.{b64(json.dumps(payload).encode())}".encode()


def test_a_correctly_signed_token_without_its_version_claim_is_refused(trader):
    payload = _payload()
    del payload["tv"]
    token = jwt.encode(payload, settings.SIMPLE_JWT["SIGNING_KEY"], "HS256")
    assert_envelope(bearer(token).get(ME), 401)


def test_a_token_cannot_be_edited_to_name_another_user(trader):
    victim = TraderFactory(username="someone")
    payload = {**_payload(), "user_id": str(victim.pk)}
    forged = jwt.encode(payload, "a-guessed-key-" + "k" * 40, "HS256")
    assert_envelope(bearer(forged).get(ME), 401, "token_not_valid")


def test_a_token_of_a_deleted_user_is_refused(trader):
    access = tokens_for("trader")["access"]
    trader.delete()
    assert_envelope(bearer(access).get(ME), 401)


def test_a_password_changed_on_the_page_revokes_every_token(trader):
    pair = tokens_for("trader")
    page = Client()
    page.force_login(trader)
    new = "An0ther-long-secret-7"
    response = page.post(
        "/accounts/password/change/",
        {"old_password": DEFAULT_PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    assert_envelope(bearer(pair["access"]).get(ME), 401, "token_revoked")
    assert_envelope(APIClient().post(REFRESH, {"refresh": pair["refresh"]}, format="json"), 401)


def test_after_logout_the_refresh_token_is_dead_and_the_access_token_expires(trader):
    pair = tokens_for("trader")
    APIClient().post("/api/v1/auth/logout/", {"refresh": pair["refresh"]}, format="json")
    assert_envelope(APIClient().post(REFRESH, {"refresh": pair["refresh"]}, format="json"), 401)
    # Access tokens are not tracked (docs/security.md): they die at their expiry, which is
    # JWT_ACCESS_MINUTES after issue and is enforced.
    lifetime = claims(pair["access"])["exp"] - claims(pair["access"])["iat"]
    assert lifetime == settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()
    expired = {**claims(pair["access"]), "exp": int(time.time()) - 1}
    token = jwt.encode(expired, settings.SIMPLE_JWT["SIGNING_KEY"], "HS256")
    assert_envelope(bearer(token).get(ME), 401)


def test_deactivation_by_an_operator_ends_api_and_page_access(trader):
    pair = tokens_for("trader")
    page = Client()
    page.force_login(trader)
    services.user_deactivate(user=trader)
    assert_envelope(bearer(pair["access"]).get(ME), 401)
    assert page.get("/strategies/").status_code == 302  # back to the sign-in page


# --- brute force on the sign-in forms ----------------------------------------------------


@pytest.fixture
def lockout(settings) -> int:
    settings.LOGIN_LOCKOUT_FAILURES = 3
    settings.RATELIMIT_AUTH_RATE = "1000/m"  # the lockout, not the rate limit, is under test
    return 3


def _page_sign_in(path: str, username: str, password: str, n: int) -> Any:
    return Client(REMOTE_ADDR=f"10.9.{n // 250}.{n % 250}").post(
        path, {"username": username, "password": password}
    )


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_repeated_failures_on_a_sign_in_page_lock_the_account(trader, lockout, path):
    for n in range(lockout):
        failed = _page_sign_in(path, "trader", "wrong-password-1", n)
        assert failed.status_code == 200  # the form again, with its error
    locked = _page_sign_in(path, "TRADER", DEFAULT_PASSWORD, 99)  # right password, any case
    # The page answers its form again with the lockout's message (the API: 429 Retry-After).
    assert locked.status_code == 200
    assert b"Too many failed sign-ins" in locked.content
    assert "_auth_user_id" not in locked.wsgi_request.session


def test_the_page_and_the_api_share_one_failure_count(trader, lockout):
    for n in range(lockout - 1):
        _page_sign_in("/accounts/login/", "trader", "wrong-password-1", n)
    api = APIClient().post(
        "/api/v1/auth/token/", {"username": "trader", "password": "wrong-password-1"},
        format="json", REMOTE_ADDR="10.9.9.9",
    )  # fmt: skip
    assert api.status_code == 401
    after = APIClient().post(
        "/api/v1/auth/token/", {"username": "trader", "password": DEFAULT_PASSWORD},
        format="json", REMOTE_ADDR="10.9.9.10",
    )  # fmt: skip
    assert_envelope(after, 429)
