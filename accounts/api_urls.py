"""API routes of the accounts app, mounted under /api/v1/."""

from django.urls import path

from accounts import api

urlpatterns = [
    path("auth/register/", api.AuthRegisterApi.as_view(), name="auth-register"),
    path("auth/token/", api.AuthTokenApi.as_view(), name="auth-token"),
    path("auth/token/refresh/", api.AuthTokenRefreshApi.as_view(), name="auth-token-refresh"),
    path("auth/token/verify/", api.AuthTokenVerifyApi.as_view(), name="auth-token-verify"),
    path("auth/logout/", api.AuthLogoutApi.as_view(), name="auth-logout"),
    path("auth/me/", api.AuthMeApi.as_view(), name="auth-me"),
    path("auth/password/change/", api.AuthPasswordChangeApi.as_view(), name="auth-password-change"),
    path("auth/password/reset/", api.AuthPasswordResetApi.as_view(), name="auth-password-reset"),
    path(
        "auth/password/reset/confirm/",
        api.AuthPasswordResetConfirmApi.as_view(),
        name="auth-password-reset-confirm",
    ),
    path("auth/2fa/totp/", api.AuthTwoFactorApi.as_view(), name="auth-2fa"),
    path("auth/2fa/totp/confirm/", api.AuthTwoFactorConfirmApi.as_view(), name="auth-2fa-confirm"),
    path("auth/2fa/totp/disable/", api.AuthTwoFactorDisableApi.as_view(), name="auth-2fa-disable"),
]
