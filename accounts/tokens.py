"""JWT issue and revocation. Tokens carry `tv` (the user's token_version when issued) and
`otp_verified` (the holder proved a TOTP code at sign-in); both survive refresh rotation.
"""

from __future__ import annotations

from typing import Any

from django.db.models import F
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, Token

from accounts.models import User


class TokenInvalid(AuthenticationFailed):
    """401 `token_not_valid` with a plain message (SimpleJWT's InvalidToken carries a dict)."""

    default_code = "token_not_valid"
    default_detail = "The token is invalid or expired."


class TokenRevoked(AuthenticationFailed):
    default_code = "token_revoked"
    default_detail = "This token has been revoked (password changed or account deactivated)."


def token_error_message(exc: TokenError | InvalidToken) -> str:
    detail = exc.args[0] if exc.args else ""
    if isinstance(detail, dict):
        detail = detail.get("detail", "")
    return str(detail) or TokenInvalid.default_detail


TOKEN_VERSION_CLAIM = "tv"  # noqa: S105 - a claim name, not a secret
OTP_VERIFIED_CLAIM = "otp_verified"


def tokens_issue(user: User, *, otp_verified: bool) -> dict[str, str]:
    """A fresh refresh/access pair (the refresh token is recorded as outstanding)."""
    refresh = RefreshToken.for_user(user)
    refresh[TOKEN_VERSION_CLAIM] = user.token_version
    refresh[OTP_VERIFIED_CLAIM] = bool(otp_verified)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def tokens_revoke_all(user: User) -> None:
    """Invalidate every token issued to `user` so far (access and refresh).

    Bumping token_version kills access tokens at their next use; blacklisting the
    outstanding refresh tokens also makes /token/verify/ and the admin's view agree.
    """
    User.objects.filter(pk=user.pk).update(token_version=F("token_version") + 1)
    user.refresh_from_db(fields=["token_version"])
    outstanding = OutstandingToken.objects.filter(user=user).exclude(blacklistedtoken__isnull=False)
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )


def ensure_token_current(user: User, token: Token | dict[str, Any]) -> None:
    """AuthenticationFailed (401) unless the token was issued under the current version."""
    if token.get(TOKEN_VERSION_CLAIM) != user.token_version:
        raise TokenRevoked()


def tokens_refresh(*, raw_refresh: str) -> dict[str, str]:
    """Rotate: a new access + refresh pair; the presented refresh token is blacklisted.

    Raises InvalidToken / AuthenticationFailed (401) for a bad, expired, blacklisted or
    revoked token or an inactive user.
    """
    try:
        # Checks signature, expiry, algorithm and blacklist. SimpleJWT annotates the encoded
        # token as `Token | None`, but it takes the str.
        refresh = RefreshToken(raw_refresh)  # type: ignore[arg-type]
    except TokenError as exc:
        raise TokenInvalid(token_error_message(exc)) from exc
    user = User.objects.filter(pk=refresh.get("user_id"), is_active=True).first()
    if user is None:
        raise TokenInvalid("No active account for this token.")
    ensure_token_current(user, refresh)
    serializer = TokenRefreshSerializer(data={"refresh": raw_refresh})
    try:
        serializer.is_valid(raise_exception=True)
    except TokenError as exc:
        raise TokenInvalid(token_error_message(exc)) from exc
    return dict(serializer.validated_data)
