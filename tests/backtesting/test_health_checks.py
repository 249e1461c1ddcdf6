"""/health shows the strategy sandbox's isolation level; rlimits alone fails it in prod."""

from unittest import mock

import pytest

pytestmark = pytest.mark.django_db


def test_health_names_the_sandbox_isolation_level(client):
    check = client.get("/health").json()["checks"]["sandbox"]
    assert check["isolation"] in ("bubblewrap+seccomp", "bubblewrap", "rlimits")
    assert check["critical"] is True


def test_rlimits_only_isolation_is_down_in_prod_but_fine_in_dev(client, settings):
    with mock.patch("backtesting.sandbox.isolation_level", return_value="rlimits"):
        settings.IS_STRICT = True
        strict = client.get("/health")
        settings.IS_STRICT = False
        relaxed = client.get("/health")
    assert strict.status_code == 503
    assert strict.json()["checks"]["sandbox"]["status"] == "down"
    assert relaxed.json()["checks"]["sandbox"]["status"] == "up"
