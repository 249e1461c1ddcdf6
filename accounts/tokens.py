"""JWT issue, rotation and revocation.

Tokens carry `tv` (the user's token_version when issued), `otp_verified` (the holder proved
a TOTP code at sign-in) and `fam` (the RefreshTokenFamily of the sign-in); all three survive
refresh rotation. A refresh token can be used once: rotation is serialised by a row lock on
its family, and presenting a rotated token again revokes the whole family.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from prometheus_client import Counter
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, Token
from rest_framework_simplejwt.utils import datetime_from_epoch

from accounts.models import RefreshTokenFamily, User

security_logger = logging.getLogger("tradeplatform.security")

REFRESH_REUSES = Counter(
    "tradeplatform_refresh_token_reuse_total",
    "Rotated refresh tokens presented again (their sign-in was revoked).",
)


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
FAMILY_CLAIM = "fam"
REUSED_MESSAGE = "This refresh token was already used; every token of its sign-in has been revoked."


def tokens_issue(user: User, *, otp_verified: bool) -> dict[str, str]:
    """A fresh refresh/access pair starting a new family (the refresh token is outstanding)."""
    refresh = RefreshToken.for_user(user)
    refresh[TOKEN_VERSION_CLAIM] = user.token_version
    refresh[OTP_VERIFIED_CLAIM] = bool(otp_verified)
    family = RefreshTokenFamily.objects.create(
        user=user, current_jti=refresh[api_settings.JTI_CLAIM]
    )
    refresh[FAMILY_CLAIM] = str(family.pk)
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


class _PresentedRefreshToken(RefreshToken):
    """Signature, expiry and type are checked on parsing, the blacklist is not: it is
    checked under the row lock (`_refresh_consume`), where a hit means reuse."""

    def check_blacklist(self) -> None:
        return None


def _refresh_parse(raw_refresh: str) -> RefreshToken:
    try:
        # SimpleJWT annotates the encoded token as `Token | None`, but it takes the str.
        return _PresentedRefreshToken(raw_refresh)  # type: ignore[arg-type]
    except TokenError as exc:
        raise TokenInvalid(token_error_message(exc)) from exc


def tokens_refresh(*, raw_refresh: str) -> dict[str, str]:
    """Rotate: a new access + refresh pair; the presented refresh token is blacklisted.

    Of concurrent uses of one token exactly one succeeds. Raises TokenInvalid /
    TokenRevoked (401) for a bad, expired, blacklisted or revoked token or an inactive
    user; presenting an already rotated token (reuse) first revokes its whole family.
    """
    refresh = _refresh_parse(raw_refresh)
    user = User.objects.filter(pk=refresh.get("user_id"), is_active=True).first()
    if user is None:
        raise TokenInvalid("No active account for this token.")
    ensure_token_current(user, refresh)
    with transaction.atomic():
        family, refusal = _refresh_consume(refresh)
        pair = _refresh_reissue(refresh, user, family) if refusal is None else {}
    if refusal is not None:
        raise refusal  # raised after the commit: a revocation must outlive the refusal
    return pair


def tokens_logout(*, raw_refresh: str) -> None:
    """End the sign-in the refresh token belongs to (its access tokens expire on their own).

    Raises TokenInvalid / TokenRevoked (401) as tokens_refresh does.
    """
    refresh = _refresh_parse(raw_refresh)
    with transaction.atomic():
        family, refusal = _refresh_consume(refresh)
        if refusal is None and family is not None:
            family.revoked_at = timezone.now()
            family.save(update_fields=["revoked_at"])
    if refusal is not None:
        raise refusal


def _refresh_consume(
    refresh: RefreshToken,
) -> tuple[RefreshTokenFamily | None, AuthenticationFailed | None]:
    """Blacklist the token if it is live, under locks; else say why not (and handle reuse).

    Returns the token's family (None for tokens from before families) and the refusal.
    """
    # The family's row lock serialises everything done with one sign-in; the outstanding
    # row's lock does the same for older tokens. Whoever comes second finds the token
    # blacklisted, which is reuse.
    family_id = _family_id(refresh)
    family = (
        RefreshTokenFamily.objects.select_for_update().filter(pk=family_id).first()
        if family_id is not None
        else None
    )
    jti = refresh[api_settings.JTI_CLAIM]
    outstanding = OutstandingToken.objects.select_for_update().filter(jti=jti).first()
    if family is not None and family.revoked_at is not None:
        return family, TokenRevoked("This sign-in has ended (logged out or revoked).")
    if outstanding is None or BlacklistedToken.objects.filter(token=outstanding).exists():
        if family is None:
            return None, TokenInvalid("Token is blacklisted")
        token_family_revoke_on_reuse(family)
        return family, TokenRevoked(REUSED_MESSAGE)
    BlacklistedToken.objects.create(token=outstanding)
    return family, None


def _family_id(refresh: RefreshToken) -> uuid.UUID | None:
    value = refresh.get(FAMILY_CLAIM)
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _refresh_reissue(
    refresh: RefreshToken, user: User, family: RefreshTokenFamily | None
) -> dict[str, str]:
    """The presented token with a new jti, iat and exp (other claims kept), outstanding."""
    refresh.set_jti()
    refresh.set_exp()
    refresh.set_iat()
    jti = refresh[api_settings.JTI_CLAIM]
    if family is None:  # a token from before families: its sign-in gets one now
        family = RefreshTokenFamily.objects.create(user=user, current_jti=jti)
        refresh[FAMILY_CLAIM] = str(family.pk)
    else:
        family.current_jti = jti
        family.save(update_fields=["current_jti"])
    OutstandingToken.objects.create(
        user=user,
        jti=jti,
        token=str(refresh),
        created_at=refresh.current_time,
        expires_at=datetime_from_epoch(refresh["exp"]),
    )
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def token_family_revoke_on_reuse(family: RefreshTokenFamily) -> None:
    """A rotated token came back: two parties hold this sign-in, so none of it refreshes again.

    Earlier members are blacklisted by rotation already; the live one is blacklisted here.
    Access tokens of the family are not tracked and expire within JWT_ACCESS_MINUTES.
    """
    family.revoked_at = timezone.now()
    family.save(update_fields=["revoked_at"])
    live = OutstandingToken.objects.filter(jti=family.current_jti)
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in live], ignore_conflicts=True
    )
    REFRESH_REUSES.inc()
    security_logger.warning(
        "refresh token reused; its sign-in is revoked",
        extra={"event": "refresh_reuse", "user_id": family.user_id, "family": str(family.pk)},
    )
