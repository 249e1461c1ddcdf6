"""Account workflows: sign-up, sign-in, password changes, deactivation, roles.

Every function takes keyword arguments, raises tradeplatform.errors domain errors (or the
accounts.errors ones) and leaves no half-done state: writes run in one transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.models import update_last_login
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.errors import AuthenticationFailedError, OtpRequiredError, RegistrationClosedError
from accounts.models import Role, User
from accounts.otp import totp_device_for, totp_verify
from accounts.roles import sync_user_groups
from accounts.security import (
    LoginAttempt,
    login_failure_record,
    login_lockout_check,
    login_success_record,
)
from accounts.tokens import tokens_revoke_all
from tradeplatform.errors import DomainValidationError
from tradeplatform.ratelimit import check_rate, client_ip


def _validation_error(field: str, message: str) -> DomainValidationError:
    return DomainValidationError("The request is not valid.", details={field: [message]})


def _validate_password(password: str, user: User, field: str = "password") -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise DomainValidationError(
            "The request is not valid.", details={field: list(exc.messages)}
        ) from exc


def _ensure_identity_free(username: str, email: str, exclude_pk: int | None = None) -> None:
    others = User.objects.exclude(pk=exclude_pk) if exclude_pk else User.objects.all()
    if username and others.filter(username__iexact=username).exists():
        raise _validation_error("username", "A user with that username already exists.")
    if email and others.filter(email__iexact=email).exists():
        raise _validation_error("email", "A user with that email already exists.")


_USERNAME_RE = re.compile(r"^[\w.+-]{3,150}\Z")


def _validate_username(username: str) -> None:
    # No "@": a sign-in name containing it is looked up as an email (see the manager).
    if not _USERNAME_RE.match(username):
        raise _validation_error(
            "username", "3-150 letters, digits and . + - _ only (no @ or spaces)."
        )


@transaction.atomic
def user_create(
    *,
    username: str,
    email: str,
    password: str | None,
    role: Role = Role.TRADER,
    display_name: str = "",
) -> User:
    """Create an active user in `role` (password None = unusable, for invitations)."""
    email = User.objects.normalize_email(email).strip()
    _validate_username(username)
    _ensure_identity_free(username, email)
    user = User(username=username, email=email, display_name=display_name or username, role=role)
    user.is_staff = role == Role.OPERATOR  # the admin is the operators' console
    if password is None:
        user.set_unusable_password()
    else:
        _validate_password(password, user)
        user.set_password(password)
    user.save()
    sync_user_groups(user)
    return user


def user_register(*, username: str, email: str, password: str, display_name: str = "") -> User:
    """Self-service sign-up as a trader; RegistrationClosedError when REGISTRATION_OPEN is off."""
    if not settings.REGISTRATION_OPEN:
        raise RegistrationClosedError()
    return user_create(username=username, email=email, password=password, display_name=display_name)


def user_invite(*, username: str, email: str, role: Role, base_url: str) -> User:
    """Create a user with no password and email them a link to choose one."""
    user = user_create(username=username, email=email, password=None, role=role)
    transaction.on_commit(lambda: password_reset_send(user=user, base_url=base_url))
    return user


@dataclass(frozen=True)
class LoginResult:
    user: User
    otp_verified: bool
    device: TOTPDevice | None


def user_authenticate(
    *, request: HttpRequest, login: str, password: str, otp: str | None = None
) -> LoginResult:
    """Check credentials (username or email) and the TOTP code when the user has a device.

    Raises AccountLockedError / RateLimitedError (429), DependencyUnavailableError (503,
    the lockout store is down), AuthenticationFailedError or OtpRequiredError (401).
    """
    attempt = LoginAttempt.of(login, client_ip(request))
    login_lockout_check(attempt)
    check_rate(
        request,
        group="login:name",
        key=attempt.account_key,  # every alias of one account shares its budget
        rate=settings.RATELIMIT_AUTH_RATE,
        endpoint="login",
        fail_open=False,
    )
    user = authenticate(request, username=login, password=password)
    if user is None:
        login_failure_record(attempt, "bad_credentials")
        raise AuthenticationFailedError()
    device = totp_device_for(user)
    if device is not None:
        if not otp:
            raise OtpRequiredError()
        if not totp_verify(device, otp):
            login_failure_record(attempt, "bad_otp")
            raise AuthenticationFailedError("The two-factor code is not valid.")
    login_success_record(attempt)
    update_last_login(type(user), user)  # the receiver ignores the sender
    return LoginResult(user=user, otp_verified=device is not None, device=device)


@transaction.atomic
def user_update_profile(*, user: User, data: dict[str, Any]) -> User:
    """Change the user's own display name or email (the only self-writable fields)."""
    if "email" in data:
        data["email"] = User.objects.normalize_email(data["email"]).strip()
        _ensure_identity_free("", data["email"], exclude_pk=user.pk)
    for field in ("display_name", "email"):
        if field in data:
            setattr(user, field, data[field])
    user.save(update_fields=[f for f in ("display_name", "email") if f in data])
    return user


@transaction.atomic
def user_change_password(*, user: User, old_password: str, new_password: str) -> None:
    """Set a new password and revoke every token issued before (other sessions end too)."""
    if not user.check_password(old_password):
        raise _validation_error("old_password", "The current password is not correct.")
    user_set_password(user=user, new_password=new_password, field="new_password")


@transaction.atomic
def user_set_password(*, user: User, new_password: str, field: str = "new_password") -> None:
    _validate_password(new_password, user, field)
    user.set_password(new_password)
    user.save(update_fields=["password"])  # a new hash also ends Django sessions
    tokens_revoke_all(user)


@transaction.atomic
def user_deactivate(*, user: User) -> None:
    """Switch the account off: no sign-in, every token and session dead at once."""
    user.is_active = False
    user.save(update_fields=["is_active"])
    tokens_revoke_all(user)


@transaction.atomic
def user_change_role(*, user: User, role: Role | str) -> User:
    """Set the role, keeping groups and the admin (is_staff) flag in step with it."""
    user.role = Role(role)
    user.is_staff = user.role == Role.OPERATOR or user.is_superuser
    user.save(update_fields=["role", "is_staff"])
    sync_user_groups(user)
    return user


def password_reset_send(*, user: User, base_url: str) -> None:
    """Email a one-time link to choose a password (Django's token: dies once used)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("accounts:password_reset_confirm", kwargs={"uidb64": uid, "token": token})
    context = {"user": user, "uid": uid, "token": token, "link": base_url.rstrip("/") + path}
    send_mail(
        subject="Choose a password for tradeplatform",
        message=render_to_string("accounts/email/password_reset.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )


def password_reset_request(*, email: str, base_url: str) -> None:
    """Send a reset link if an active user has this email; silent otherwise (no enumeration)."""
    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is not None:
        password_reset_send(user=user, base_url=base_url)


def password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    """Set the password from an emailed link; DomainValidationError if the link is bad."""
    try:
        user = User.objects.get(pk=int(force_str(urlsafe_base64_decode(uid))), is_active=True)
    except (ValueError, TypeError, OverflowError, User.DoesNotExist):
        user = None
    if user is None or not default_token_generator.check_token(user, token):
        raise _validation_error("token", "This reset link is invalid or has expired.")
    user_set_password(user=user, new_password=new_password)
    return user
