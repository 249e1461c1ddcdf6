"""Browser forms; validation beyond field shapes is done by accounts.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest
from django_otp.admin import OTPAdminAuthenticationForm
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services
from accounts.errors import OtpRequiredError
from accounts.models import User
from accounts.security import (
    LoginAttempt,
    login_failure_record,
    login_lockout_check,
    login_success_record,
)
from tradeplatform.errors import DomainError
from tradeplatform.ratelimit import client_ip


def _domain_error_messages(exc: DomainError) -> dict[str | None, list[str]]:
    if isinstance(exc.details, dict) and all(isinstance(v, list) for v in exc.details.values()):
        return {field: [str(m) for m in msgs] for field, msgs in exc.details.items()}
    return {None: [exc.message]}


class LoginForm(forms.Form):
    """Username or email, password, and the TOTP code for users who turned two-factor on."""

    username = forms.CharField(label="Username or email", max_length=254)
    password = forms.CharField(widget=forms.PasswordInput, strip=False, max_length=256)
    otp = forms.CharField(
        label="Two-factor code (if enabled)",
        max_length=12,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        self.request = request
        self.result: services.LoginResult | None = None
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.errors or self.request is None:
            return data
        try:
            self.result = services.user_authenticate(
                request=self.request,
                login=data["username"],
                password=data["password"],
                otp=data.get("otp") or None,
            )
        except OtpRequiredError as exc:
            # The service speaks API ("send it as `otp`"); the page has a field for it.
            message = "Two-factor authentication is on: enter the 6-digit code from your app."
            raise forms.ValidationError(message, code=exc.code) from exc
        except DomainError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc
        return data

    def get_user(self) -> User:
        assert self.result is not None
        return self.result.user


class AdminLoginForm(OTPAdminAuthenticationForm):
    """The admin's sign-in (password + TOTP) under the same per-account lockout as ours.

    Without it /admin/login/ would let anyone go on testing an operator's password (its
    errors tell a right password from a wrong code) after the account is locked.
    """

    otp_error_messages = {
        **OTPAdminAuthenticationForm.otp_error_messages,
        "token_required": "Enter the 6-digit code from your authenticator app.",
        "invalid_token": "That code is not valid: enter the one your app shows now.",
        "device_required": (
            "Two-factor authentication is not on for this account: sign in to the site and "
            "turn it on at /accounts/2fa/ first."
        ),
    }

    def _chosen_device(self, user: Any) -> Any:
        # A user has at most one TOTP device (accounts.otp), so the form needs no device
        # picker: django-otp would otherwise refuse the first attempt with "select a device".
        device = super()._chosen_device(user)
        if device is None:
            device = (
                TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
            )
        return device

    def clean(self) -> dict[str, Any]:
        login = str(self.data.get("username", ""))
        attempt = LoginAttempt.of(login, client_ip(self.request) if self.request else "")
        try:
            login_lockout_check(attempt)
        except DomainError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            login_failure_record(attempt, "admin_sign_in")
            raise
        login_success_record(attempt)
        return cleaned


class SignupForm(forms.Form):
    username = forms.CharField(max_length=150, min_length=3)
    email = forms.EmailField(max_length=254)
    password = forms.CharField(widget=forms.PasswordInput, strip=False, max_length=256)

    def register(self) -> User | None:
        """Create the user via the service; on a domain error, put it on the form."""
        try:
            return services.user_register(**self.cleaned_data)
        except DomainError as exc:
            for field, messages in _domain_error_messages(exc).items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
            return None


class OtpCodeForm(forms.Form):
    otp = forms.CharField(
        label="6-digit code",
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class ProfileForm(forms.Form):
    """The self-writable fields of the account page (the API's PATCH /auth/me/ whitelist)."""

    display_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(max_length=254)

    def save(self, user: User) -> User | None:
        """Update through the service; on a domain error (email taken), put it on the form."""
        try:
            return services.user_update_profile(user=user, data=dict(self.cleaned_data))
        except DomainError as exc:
            for field, messages in _domain_error_messages(exc).items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
            return None
