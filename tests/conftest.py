"""Shared fixtures: the owner, a second user, an operator, and API clients."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings as hypothesis_settings

# Host components (Chromium, bubblewrap, seccomp): fail in CI, skip loudly elsewhere.
from tests.components import (  # noqa: F401 - pytest finds hooks by name here
    components_required,
    pytest_configure,
    pytest_runtest_setup,
    pytest_terminal_summary,
)

# `pytester` runs the test of that mechanism (tests/test_components.py).
pytest_plugins = ["pytester"]

# Property tests (hypothesis): CI derandomizes, so a failure there fails the same way on
# every rerun and on a laptop with HYPOTHESIS_PROFILE=ci; both profiles print the failing
# example's `@reproduce_failure` blob. No deadline: a loaded 2-core box is slow at random.
hypothesis_settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, print_blob=True
)
hypothesis_settings.register_profile("dev", deadline=None, print_blob=True)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if components_required() else "dev")
)

if TYPE_CHECKING:
    from rest_framework.test import APIClient

# `make test` runs two pytest-xdist processes (docs/testing.md, "Two test processes").
# A test module runs whole in one process, so its module fixtures are set up once; so do the
# chaos suite (one private PostgreSQL and Redis) and the browser suite (one Chromium). The
# suites that mostly wait and stand alone are handed out first, so the other process fills
# the waits with quick modules instead of leaving a long tail. The integration suite comes
# last: its session-wide Celery worker lives on in its process once started, and would
# take (and run) the jobs that later tests submit and run in-process themselves.
_WHOLE_SUITES = ("chaos", "browser")
_FIRST_SUITES = ("chaos", "browser", "fuzz")
_LAST_SUITES = ("integration",)


def _suite(nodeid: str) -> str:
    parts = nodeid.split("::", 1)[0].split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "tests" else ""


def _rank(scope: str) -> int:
    suite = scope if scope in _WHOLE_SUITES else _suite(scope)
    if suite in _FIRST_SUITES:
        return _FIRST_SUITES.index(suite)
    return len(_FIRST_SUITES) + (suite in _LAST_SUITES)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    if config.getoption("dist") not in ("load", "loadscope"):
        return None  # another --dist asked for by name: xdist's own

    class SuiteScheduling(LoadScopeScheduling):
        _ordered = False

        def _split_scope(self, nodeid: str) -> str:
            suite = _suite(nodeid)
            return suite if suite in _WHOLE_SUITES else nodeid.split("::", 1)[0]

        def _assign_work_unit(self, node: Any) -> None:
            # The work queue (scope -> its tests) is complete before the first unit goes out:
            # move the waiting suites to its front then. Only the queue is reordered: the
            # collection itself must stay as every process collected it, since the processes
            # are told which tests to run by their index in it.
            if not self._ordered:
                for scope in sorted(self.workqueue, key=_rank):
                    self.workqueue.move_to_end(scope)
                self._ordered = True
            super()._assign_work_unit(node)

    return SuiteScheduling(config, log)


# Django-dependent imports live inside the fixtures so that tests/engine and tests/sandbox
# also run as plain pytest (`-p no:django`), without settings or a database.


@pytest.fixture
def owner(db):
    from tests.factories import TraderFactory

    return TraderFactory(username="owner")


@pytest.fixture
def other_user(db):
    from tests.factories import TraderFactory

    return TraderFactory(username="other")


@pytest.fixture
def viewer(db):
    from tests.factories import ViewerFactory

    return ViewerFactory(username="viewer")


@pytest.fixture
def operator(db):
    from tests.factories import OperatorFactory

    return OperatorFactory(username="operator")


@pytest.fixture
def api_client() -> APIClient:
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def owner_client(owner) -> APIClient:
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(owner)
    return client


@pytest.fixture(autouse=True)
def _isolated_cache():
    """Each test starts with an empty cache (rate-limit counters, breaker state, heartbeats),
    and so does this process's own memory of bars (ids and versions repeat between tests)."""
    from django.conf import settings

    if not settings.configured:  # plain-pytest runs of the engine and sandbox suites
        yield
        return
    from django.core.cache import cache

    from backtesting.marketdata.selectors import bars_local_cache_clear

    cache.clear()
    bars_local_cache_clear()
    yield
    cache.clear()
    bars_local_cache_clear()


@pytest.fixture
def superuser(db):
    from tests.factories import SuperuserFactory

    return SuperuserFactory(username="root")


@pytest.fixture
def operator_client(operator) -> APIClient:
    """An API client acting as an operator who passed two-factor verification."""
    from rest_framework.test import APIClient

    from accounts.access import mark_otp_verified

    mark_otp_verified(operator)
    client = APIClient()
    client.force_authenticate(operator)
    return client


@pytest.fixture
def cache_down(settings):
    """The production Redis cache backend pointed at a port where nothing listens."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "django_prometheus.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
            },
        }
    }
