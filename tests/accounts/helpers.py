"""Helpers for the accounts tests: URLs, JWT clients and hand-made tokens."""

from __future__ import annotations

import base64
import json
from typing import Any

from rest_framework.test import APIClient

from tests.factories import DEFAULT_PASSWORD

REGISTER = "/api/v1/auth/register/"
TOKEN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"
VERIFY = "/api/v1/auth/token/verify/"
LOGOUT = "/api/v1/auth/logout/"
ME = "/api/v1/auth/me/"
PASSWORD_CHANGE = "/api/v1/auth/password/change/"
PASSWORD_RESET = "/api/v1/auth/password/reset/"
PASSWORD_RESET_CONFIRM = "/api/v1/auth/password/reset/confirm/"
TWO_FACTOR = "/api/v1/auth/2fa/totp/"
TWO_FACTOR_CONFIRM = "/api/v1/auth/2fa/totp/confirm/"
TWO_FACTOR_DISABLE = "/api/v1/auth/2fa/totp/disable/"


def obtain(
    client: APIClient,
    username: str,
    password: str = DEFAULT_PASSWORD,
    *,
    remote_addr: str = "127.0.0.1",
    **extra: Any,
):
    """POST the sign-in form; `extra` are body fields (otp), `remote_addr` the client's IP."""
    data = {"username": username, "password": password, **extra}
    return client.post(TOKEN, data, format="json", REMOTE_ADDR=remote_addr)


def tokens_for(username: str, password: str = DEFAULT_PASSWORD, **extra: Any) -> dict[str, str]:
    response = obtain(APIClient(), username, password, **extra)
    assert response.status_code == 200, response.json()
    return response.json()


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    """A JWT assembled by hand (for alg=none and friends)."""
    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(payload).encode())
    return f"{head}.{body}.{b64(signature)}"


def claims(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def assert_envelope(response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details", "request_id"}
    if code is not None:
        assert error["code"] == code, error
    return error
