"""DRF authentication: SimpleJWT plus revocation and the two-factor flag.

Configured first in REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]. SimpleJWT already
refuses any algorithm but SIMPLE_JWT["ALGORITHM"] (so `alg: none` and HS/RS confusion
fail), bad signatures, expired tokens and inactive users; on top of that a token whose
`tv` claim is not the user's current token_version (password changed, deactivated,
logged out everywhere) is rejected, and `otp_verified` is exposed as user.is_verified().
"""

from __future__ import annotations

from typing import cast

from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.tokens import Token

from accounts.access import mark_otp_verified
from accounts.models import User
from accounts.tokens import (
    OTP_VERIFIED_CLAIM,
    TokenInvalid,
    ensure_token_current,
    token_error_message,
)


# SimpleJWT annotates authenticate()/get_user() with a TypeVar bound to no class, so no
# concrete override can match it; at run time they return settings.AUTH_USER_MODEL, our User.
class TokenVersionJWTAuthentication(JWTAuthentication):
    def authenticate(self, request: Request) -> tuple[User, Token] | None:  # type: ignore[override]
        try:
            return super().authenticate(request)  # type: ignore[return-value]
        except InvalidToken as exc:
            # Same 401, but a readable message in the envelope instead of SimpleJWT's dict.
            raise TokenInvalid(token_error_message(exc)) from exc

    def get_user(self, validated_token: Token) -> User:  # type: ignore[override]
        user = cast(User, super().get_user(validated_token))
        ensure_token_current(user, validated_token)
        mark_otp_verified(user, bool(validated_token.get(OTP_VERIFIED_CLAIM, False)))
        return user
