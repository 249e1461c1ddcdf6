"""Who may do what: the role and two-factor checks every other module asks.

Plain functions over a user object, free of DRF so models and services can use them.

- `is_otp_verified(user) -> bool`: the current request's user proved a TOTP code. The flag
  lives on the user *instance* of the request (django-otp's `user.is_verified()` protocol):
  `django_otp.middleware.OTPMiddleware` sets it for sessions and
  `accounts.authentication.TokenVersionJWTAuthentication` for JWTs (`otp_verified` claim).
  An instance without the flag (loaded in a shell or a task) counts as *not* verified.
- `has_operator_access(user) -> bool`: an active operator or superuser who is OTP-verified.
  This, not the bare role, unlocks everything operator-only: seeing other users' objects,
  operator endpoints, the admin. A stolen operator password alone is worth a trader's view.
- `mark_otp_verified(user, verified=True)`: set the flag on an instance (authentication
  backends, and tests: `mark_otp_verified(operator)` before acting as a full operator).
- `signed_in_user(request.user) -> User`: the request's user as a `User`, for views that an
  authentication check (IsAuthenticated, login_required, the admin) already guards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied

from accounts.models import Role, User

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser


def is_otp_verified(user: Any) -> bool:
    check = getattr(user, "is_verified", None)
    return bool(check()) if callable(check) else False


def signed_in_user(user: User | AnonymousUser) -> User:
    """The signed-in user; PermissionDenied (403) for an anonymous one, which the view's own
    authentication check should already have turned away."""
    if not isinstance(user, User):
        raise PermissionDenied("Sign in first.")
    return user


def mark_otp_verified(user: Any, verified: bool = True) -> None:
    user.is_verified = lambda: verified


def has_role(user: Any, role: Role | str) -> bool:
    """True for an authenticated, active user whose role is `role` or ranks above it."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return bool(user.has_role(role))


def has_operator_access(user: Any) -> bool:
    return has_role(user, Role.OPERATOR) and is_otp_verified(user)


def requires_otp(user: Any) -> bool:
    """Operators and superusers must have a confirmed TOTP device and use it at login."""
    return has_role(user, Role.OPERATOR)
