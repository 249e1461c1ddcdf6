"""Create the example strategies for a (demo) user; running it again changes nothing.

    python manage.py load_demo_strategies --user demo [--shared]

Each example becomes a strategy with the example's short name. An existing strategy of that
name gets a new version only when the example's code has changed since.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from strategies.library import example_list
from strategies.models import Strategy
from strategies.services import strategy_create, strategy_update


class Command(BaseCommand):
    help = "Create the example strategies for a user (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", default="demo", help="username (default: demo)")
        parser.add_argument(
            "--shared", action="store_true", help="share them with every signed-in user"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["user"]
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f'No user "{username}"; create it first.') from exc
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        for example in example_list():
            counts[self._load(user, example, shared=options["shared"])] += 1
        self.stdout.write(
            self.style.SUCCESS(
                f"{username}: {counts['created']} created, {counts['updated']} updated, "
                f"{counts['unchanged']} unchanged."
            )
        )

    def _load(self, user: Any, example: Any, *, shared: bool) -> str:
        existing = Strategy.objects.active().owned_by(user).filter(name=example.name).first()
        if existing is None:
            strategy_create(
                owner=user,
                name=example.name,
                description=example.description,
                code=example.code,
                shared=shared,
            )
            return "created"
        version = strategy_update(strategy=existing, user=user, code=example.code)
        return "unchanged" if version is None else "updated"
