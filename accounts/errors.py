"""Errors of the accounts app; the API renders them in the common envelope."""

from __future__ import annotations

from tradeplatform.errors import DomainError, RateLimitedError


class AuthenticationFailedError(DomainError):
    status_code = 401
    code = "authentication_failed"
    default_message = "The username, email or password is not correct."


class OtpRequiredError(DomainError):
    status_code = 401
    code = "otp_required"
    default_message = "Two-factor authentication is on: send the 6-digit code as `otp`."


class AccountLockedError(RateLimitedError):
    # A RateLimitedError so the envelope carries Retry-After.
    code = "account_locked"
    default_message = "Too many failed sign-ins; try again later."


class RegistrationClosedError(DomainError):
    status_code = 403
    code = "registration_closed"
    default_message = "Sign-up is by invitation only; ask an operator."
