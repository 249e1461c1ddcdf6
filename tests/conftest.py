"""Shared fixtures: the owner, a second user, an operator, and API clients."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import OperatorFactory, TraderFactory, ViewerFactory


@pytest.fixture
def owner(db):
    return TraderFactory(username="owner")


@pytest.fixture
def other_user(db):
    return TraderFactory(username="other")


@pytest.fixture
def viewer(db):
    return ViewerFactory(username="viewer")


@pytest.fixture
def operator(db):
    return OperatorFactory(username="operator")


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def owner_client(owner) -> APIClient:
    client = APIClient()
    client.force_authenticate(owner)
    return client


@pytest.fixture(autouse=True)
def _isolated_cache():
    """Each test starts with an empty cache (rate-limit counters, breaker state, heartbeats)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
