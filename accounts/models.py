"""The custom user: identity, role and the checks the rest of the code asks of it."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower

# The roles are defined beside their groups; imported here, where the code has always found them.
from accounts.roles import Role, sync_user_groups

__all__ = ["RefreshTokenFamily", "Role", "TradePlatformUserManager", "User"]


# Each role can do everything the roles before it can.
_ROLE_RANK = {Role.VIEWER: 0, Role.TRADER: 1, Role.OPERATOR: 2}


class TradePlatformUserManager(UserManager["User"]):
    def for_login(self, login: str | None) -> models.QuerySet[User]:
        """The account a sign-in name means (at most one row: both lookups are unique).

        The username or the email, both case-insensitively. Usernames cannot contain "@"
        (accounts.services), so the two namespaces never overlap.
        """
        if login and "@" in login:
            return self.filter(email__iexact=login)
        return self.filter(username__iexact=login)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.for_login(username).get()

    def create_superuser(
        self, username: str, email: str | None = None, password: str | None = None, **extra: Any
    ) -> User:
        """`createsuperuser`'s user: an operator by role too, in the Operators group.

        Without this the stored role stayed "trader": the admin's user list, the Traders
        group and the API's `role` all said trader for the site's first operator.
        """
        extra.setdefault("role", Role.OPERATOR)
        user = super().create_superuser(username, email, password, **extra)
        sync_user_groups(user)
        return user


class User(AbstractUser):
    email = models.EmailField("email address", max_length=254)
    display_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.TRADER)
    # Every token carries the version it was issued under; bumping it (password change,
    # deactivation, "log out everywhere") invalidates all of them at once.
    token_version = models.PositiveIntegerField(default=0, editable=False)
    # Per-user overrides of the role's quotas (settings.QUOTAS); empty = the role's value.
    quota_strategies = models.PositiveIntegerField(null=True, blank=True)
    quota_concurrent_backtests = models.PositiveIntegerField(null=True, blank=True)
    quota_daily_backtests = models.PositiveIntegerField(null=True, blank=True)

    objects: ClassVar[TradePlatformUserManager] = TradePlatformUserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
            # "Alice" and "alice" would be one login (lookups are case-insensitive).
            models.UniqueConstraint(Lower("username"), name="accounts_user_username_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def effective_role(self) -> Role:
        return Role.OPERATOR if self.is_superuser else Role(self.role)

    def has_role(self, role: Role | str) -> bool:
        """True when the user's role is `role` or ranks above it (superusers rank highest)."""
        if not self.is_active:
            return False
        return _ROLE_RANK[self.effective_role] >= _ROLE_RANK[Role(role)]

    @property
    def is_operator(self) -> bool:
        """The operator *role*; operator powers also need 2FA (accounts.access)."""
        return self.has_role(Role.OPERATOR)


class RefreshTokenFamily(models.Model):
    """The refresh tokens descended from one sign-in, by rotation (the token's `fam` claim).

    Rotation keeps exactly one of them usable, `current_jti`. A rotated token presented
    again means two parties hold the family (OWASP: refresh token rotation with reuse
    detection), so the whole family is revoked: `revoked_at` set, the live token blacklisted.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="token_families")
    current_jti = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"token family {self.pk} of user {self.user_id}"
