"""Fixtures of the security suite: the victim's world, built once per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import transaction

from tests.security.world import World, world_build


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> Iterator[World]:
    """The victim's objects, built once for the module inside a transaction rolled back at
    its end; each test runs in a savepoint of it (pytest-django's `db`), so whatever a test
    writes is undone before the next one."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield world_build()
        transaction.set_rollback(True)


@pytest.fixture
def no_rate_limits(settings) -> None:
    """Hundreds of requests from one address by design: the limits are tested elsewhere."""
    settings.RATELIMIT_ENABLE = False
