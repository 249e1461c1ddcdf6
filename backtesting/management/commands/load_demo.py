"""`manage.py load_demo`: the demo user, market data, example strategies and a finished backtest
of each. Idempotent."""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

DEMO_USERNAME = "demo"
# A fixed, documented password so the README can tell a newcomer how to sign in locally.
# DEMO_PASSWORD overrides it; the demo is for dev machines, never loaded in prod by make.
DEFAULT_DEMO_PASSWORD = "demo-trader-2026"  # noqa: S105 - documented local demo credential

# Each app contributes an idempotent step; the demo user must exist before the strategies.
DEMO_STEPS: tuple[tuple[str, dict[str, str]], ...] = (
    ("load_demo_marketdata", {}),
    ("load_demo_strategies", {"user": DEMO_USERNAME}),
    ("load_demo_backtests", {"user": DEMO_USERNAME}),
)


class Command(BaseCommand):
    help = "Create the demo user and load demo market data and strategies (safe to rerun)."

    def handle(self, *args: Any, **options: Any) -> None:
        password = os.environ.get("DEMO_PASSWORD", DEFAULT_DEMO_PASSWORD)
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=DEMO_USERNAME,
            defaults={"email": "demo@example.com", "display_name": "Demo Trader", "role": "trader"},
        )
        if created:
            user.set_password(password)
            user.save(update_fields=["password"])
        for command, kwargs in DEMO_STEPS:
            call_command(command, **kwargs)
        state = "created" if created else "already present (password unchanged)"
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo user {state}: sign in as '{DEMO_USERNAME}' with password '{password}'"
            )
        )
