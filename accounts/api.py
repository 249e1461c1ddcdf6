"""Auth API (mounted under /api/v1/auth/): thin classes over accounts.services.

Each class parses with its nested InputSerializer, calls one service and shapes the
answer with its OutputSerializer. Errors use the common envelope (see docs/api.md).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import update_session_auth_hash
from django_otp import login as otp_login
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import UntypedToken

from accounts import otp, services
from accounts.access import is_otp_verified, signed_in_user
from accounts.models import User
from accounts.tokens import (
    TokenInvalid,
    ensure_token_current,
    token_error_message,
    tokens_issue,
    tokens_logout,
    tokens_refresh,
)

TAGS = ["auth"]


class AuthApiView(APIView):
    def get_authenticate_header(self, request: Request) -> str:
        # Token endpoints take no credentials, but a refused token must still be a 401
        # (DRF turns 401 into 403 when a view has no WWW-Authenticate to offer).
        return 'Bearer realm="api"'


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers, lists and objects instead of str()-ing them."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def password_field(**kwargs: Any) -> StrictCharField:
    # Never trim a password; cap its length so hashing cannot be used as a DoS.
    return StrictCharField(trim_whitespace=False, max_length=256, **kwargs)


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    display_name = serializers.CharField()
    role = serializers.CharField()
    is_operator = serializers.BooleanField()
    two_factor_enabled = serializers.SerializerMethodField()
    date_joined = serializers.DateTimeField()

    def get_two_factor_enabled(self, user: User) -> bool:
        return otp.totp_device_for(user) is not None


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    otp_verified = serializers.BooleanField()


def _token_pair(user: User, otp_verified: bool) -> dict[str, Any]:
    return {**tokens_issue(user, otp_verified=otp_verified), "otp_verified": otp_verified}


def _base_url(request: Request) -> str:
    return request.build_absolute_uri("/")


class AuthRegisterApi(AuthApiView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        username = StrictCharField(min_length=3, max_length=150)
        email = serializers.EmailField(max_length=254)
        password = password_field()
        display_name = StrictCharField(max_length=150, required=False, allow_blank=True)

    @extend_schema(tags=TAGS, request=InputSerializer, responses={201: UserSerializer, 403: None})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class AuthTokenApi(AuthApiView):
    """Access + refresh tokens for a username or email, password and (if on) a TOTP code."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        username = StrictCharField(max_length=254, help_text="Username or email.")
        password = password_field()
        otp = StrictCharField(max_length=12, required=False, allow_blank=True)

    @extend_schema(
        tags=TAGS, request=InputSerializer, responses={200: TokenPairSerializer, 401: None}
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.user_authenticate(
            request=request,
            login=data.validated_data["username"],
            password=data.validated_data["password"],
            otp=data.validated_data.get("otp"),
        )
        return Response(_token_pair(result.user, result.otp_verified))


class AuthTokenRefreshApi(AuthApiView):
    """Trade a refresh token for a new pair, once: reusing a rotated one revokes the sign-in."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        refresh = StrictCharField(max_length=4096)

    class OutputSerializer(serializers.Serializer):
        access = serializers.CharField()
        refresh = serializers.CharField()

    @extend_schema(tags=TAGS, request=InputSerializer, responses={200: OutputSerializer, 401: None})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(tokens_refresh(raw_refresh=data.validated_data["refresh"]))


class AuthTokenVerifyApi(AuthApiView):
    """200 if the token is valid, unrevoked and its user active; 401 otherwise."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        token = StrictCharField(max_length=4096)

    @extend_schema(tags=TAGS, request=InputSerializer, responses={200: None, 401: None})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            token = UntypedToken(data.validated_data["token"])
        except TokenError as exc:
            raise TokenInvalid(token_error_message(exc)) from exc
        if BlacklistedToken.objects.filter(token__jti=token.get("jti")).exists():
            raise TokenInvalid("Token is blacklisted")
        user = User.objects.filter(pk=token.get("user_id"), is_active=True).first()
        if user is None:
            raise TokenInvalid("The token's user is inactive or gone.")
        ensure_token_current(user, token)
        return Response({})


class AuthLogoutApi(AuthApiView):
    """End the refresh token's sign-in (its access tokens die within minutes)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        refresh = StrictCharField(max_length=4096)

    @extend_schema(tags=TAGS, request=InputSerializer, responses={204: None, 401: None})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tokens_logout(raw_refresh=data.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuthMeApi(AuthApiView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        # The whitelist: role, is_staff, username... are not writable by their owner.
        display_name = StrictCharField(max_length=150, required=False, allow_blank=True)
        email = serializers.EmailField(max_length=254, required=False)

    @extend_schema(tags=TAGS, responses={200: UserSerializer})
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)

    @extend_schema(tags=TAGS, request=InputSerializer, responses={200: UserSerializer})
    def patch(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.user_update_profile(
            user=signed_in_user(request.user), data=dict(data.validated_data)
        )
        return Response(UserSerializer(user).data)


class AuthPasswordChangeApi(AuthApiView):
    """Change the password; every older token is revoked and a new pair returned."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        old_password = password_field()
        new_password = password_field()

    @extend_schema(tags=TAGS, request=InputSerializer, responses={200: TokenPairSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = signed_in_user(request.user)
        services.user_change_password(user=user, **data.validated_data)
        if hasattr(request, "session"):
            update_session_auth_hash(request._request, user)  # keep this session
        verified = is_otp_verified(user)
        return Response(_token_pair(user, verified))


class AuthPasswordResetApi(AuthApiView):
    """Email a reset link; always 202 so the answer does not reveal who has an account."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)

    @extend_schema(tags=TAGS, request=InputSerializer, responses={202: None})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_request(
            email=data.validated_data["email"], base_url=_base_url(request)
        )
        return Response(status=status.HTTP_202_ACCEPTED)


class AuthPasswordResetConfirmApi(AuthApiView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        uid = StrictCharField(max_length=64)
        token = StrictCharField(max_length=128)
        new_password = password_field()

    @extend_schema(tags=TAGS, request=InputSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_confirm(**data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuthTwoFactorApi(AuthApiView):
    """GET: is two-factor on? POST: start enrolment (secret + QR code, shown once)."""

    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer):
        enabled = serializers.BooleanField()
        verified = serializers.BooleanField()
        # DRF's metaclass moves declared fields off the class; drf-stubs sees Field.required.
        required = serializers.BooleanField()  # type: ignore[assignment]

    class EnrolOutputSerializer(serializers.Serializer):
        secret = serializers.CharField()
        otpauth_url = serializers.CharField()
        qr_data_uri = serializers.CharField()

    @extend_schema(tags=TAGS, responses={200: OutputSerializer})
    def get(self, request: Request) -> Response:
        user = signed_in_user(request.user)
        return Response(
            {
                "enabled": otp.totp_device_for(user) is not None,
                "verified": is_otp_verified(user),
                "required": user.is_operator,
            }
        )

    @extend_schema(tags=TAGS, request=None, responses={201: EnrolOutputSerializer, 409: None})
    def post(self, request: Request) -> Response:
        enrolment = otp.totp_enrol_start(signed_in_user(request.user))
        body = {
            "secret": enrolment.secret,
            "otpauth_url": enrolment.otpauth_url,
            "qr_data_uri": enrolment.qr_data_uri,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class AuthTwoFactorConfirmApi(AuthApiView):
    """Confirm enrolment with a code: two-factor is on and a verified token pair returned."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        otp = StrictCharField(max_length=12)

    @extend_schema(tags=TAGS, request=InputSerializer, responses={200: TokenPairSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = signed_in_user(request.user)
        device = otp.totp_enrol_confirm(user, data.validated_data["otp"])
        if request._request.user.is_authenticated:  # a browser session: mark it verified
            otp_login(request._request, device)
        return Response(_token_pair(user, True))


class AuthTwoFactorDisableApi(AuthApiView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        otp = StrictCharField(max_length=12)

    @extend_schema(tags=TAGS, request=InputSerializer, responses={204: None, 409: None})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        otp.totp_disable(signed_in_user(request.user), data.validated_data["otp"])
        return Response(status=status.HTTP_204_NO_CONTENT)
