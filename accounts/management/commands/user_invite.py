"""Invite a user: create the account without a password and email a set-password link."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services
from accounts.models import Role
from tradeplatform.errors import DomainError


class Command(BaseCommand):
    help = "Create a user and email them a link to choose a password (for closed sign-up)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("email")
        parser.add_argument("--role", choices=[r.value for r in Role], default=Role.TRADER.value)
        parser.add_argument("--base-url", default="http://localhost:8000")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = services.user_invite(
                username=options["username"],
                email=options["email"],
                role=Role(options["role"]),
                base_url=options["base_url"],
            )
        except DomainError as exc:
            raise CommandError(f"{exc.message} {exc.details or ''}") from exc
        self.stdout.write(f"Invited {user.username} <{user.email}> as {user.role}.")
