"""The custom user: identity, role and the checks the rest of the code asks of it."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    TRADER = "trader", "Trader"
    OPERATOR = "operator", "Operator"


# Each role can do everything the roles before it can.
_ROLE_RANK = {Role.VIEWER: 0, Role.TRADER: 1, Role.OPERATOR: 2}


class TradePlatformUserManager(UserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> User:
        # Log in with the username or the email, the latter case-insensitively.
        lookup = models.Q(username=username) | models.Q(email__iexact=username)
        return self.get(lookup)


class User(AbstractUser):
    email = models.EmailField("email address", max_length=254)
    display_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.TRADER)

    objects = TradePlatformUserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
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
        return self.has_role(Role.OPERATOR)
