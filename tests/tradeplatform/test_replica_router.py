"""The read-replica router on two aliases: "replica" mirrors the test database (settings.py),
so every routing decision is seen in the queries each alias ran."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from backtesting.jobs.lifecycle import ClaimOutcome, JobClaim, job_claim
from backtesting.models import Backtest
from tests.backtesting.conftest import instrument, strategy_version, submit  # noqa: F401
from tests.factories import TraderFactory
from tradeplatform.db_router import PIN_COOKIE, primary_only, routing_scope

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.skipif("replica" not in settings.DATABASES, reason="PostgreSQL only"),
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
]


@pytest.fixture(autouse=True)
def replica_reads(settings) -> None:
    settings.DATABASE_REPLICA_READS = True


@pytest.fixture(autouse=True, scope="module")
def _close_the_replica_pool() -> Iterator[None]:
    # Nothing else closes the mirror's pool; its open connections would keep pytest-django
    # from dropping the test database at the end of the session.
    yield
    connections["replica"].close_pool()  # type: ignore[attr-defined]


@contextmanager
def queries_per_alias() -> Iterator[dict[str, CaptureQueriesContext]]:
    captured = {
        alias: CaptureQueriesContext(connections[alias]) for alias in ("default", "replica")
    }
    for context in captured.values():
        context.__enter__()
    try:
        yield captured
    finally:
        for context in captured.values():
            context.__exit__(None, None, None)


def sql(context: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in context.captured_queries]


def test_a_read_goes_to_the_replica_and_a_write_to_the_primary() -> None:
    user: Any = TraderFactory()
    with routing_scope(), queries_per_alias() as q:
        assert User.objects.filter(pk=user.pk).count() == 1
        assert any('FROM "accounts_user"' in s for s in sql(q["replica"]))
        assert sql(q["default"]) == []
        User.objects.filter(pk=user.pk).update(first_name="Ada")
    assert any(s.startswith('UPDATE "accounts_user"') for s in sql(q["default"]))
    assert not any(s.startswith("UPDATE") for s in sql(q["replica"]))


def test_after_a_write_the_same_request_reads_the_primary() -> None:
    user: Any = TraderFactory()
    with routing_scope():
        User.objects.filter(pk=user.pk).update(first_name="Ada")
        with queries_per_alias() as q:
            assert User.objects.get(pk=user.pk).first_name == "Ada"
    assert sql(q["replica"]) == []
    assert len(sql(q["default"])) == 1


def test_reads_inside_a_transaction_and_under_primary_only_stay_on_the_primary() -> None:
    user: Any = TraderFactory()
    with routing_scope(), queries_per_alias() as q:
        with transaction.atomic():
            User.objects.get(pk=user.pk)
        with primary_only():
            User.objects.get(pk=user.pk)
        assert sql(q["replica"]) == []
        User.objects.get(pk=user.pk)  # neither: the replica again
    assert len(sql(q["replica"])) == 1


def test_with_replica_reads_off_everything_reads_the_primary(settings) -> None:
    settings.DATABASE_REPLICA_READS = False
    user: Any = TraderFactory()
    with routing_scope(), queries_per_alias() as q:
        User.objects.get(pk=user.pk)
    assert sql(q["replica"]) == []
    assert len(sql(q["default"])) == 1


def test_a_job_claim_lease_and_cancel_poll_never_read_the_replica(
    submit,  # noqa: F811
    settings,
    monkeypatch,
) -> None:
    settings.BACKTEST_CANCEL_POLL_SECONDS = 0.0
    # This test commits: unpublished, so a worker started by an earlier test in the session
    # (tests/integration) cannot claim the job before the claim under test.
    monkeypatch.setattr("backtesting.jobs.lifecycle.task_enqueue_on_commit", lambda *a, **k: None)
    backtest: Backtest = submit()
    with routing_scope(), queries_per_alias() as q:
        assert job_claim(Backtest, job_id=backtest.pk, token="t1") is ClaimOutcome.CLAIMED
    assert sql(q["replica"]) == []
    # A fresh scope, as a later poll of the running task: its first query is a read.
    with routing_scope(), queries_per_alias() as q:
        claim = JobClaim(Backtest, backtest.pk, "t1")
        assert claim.should_cancel() is False
        claim.renew()
        assert claim.lost is False
    assert sql(q["replica"]) == []
    assert any("cancel_requested" in s for s in sql(q["default"]))


@pytest.mark.urls("tests.tradeplatform.urls_replica_router")
def test_a_user_who_wrote_reads_the_primary_on_the_next_request_until_the_pin_expires(
    settings,
) -> None:
    settings.DATABASE_REPLICA_PIN_SECONDS = 7
    user: Any = TraderFactory(first_name="Old")
    client = Client()
    with queries_per_alias() as q:
        assert client.get(f"/read/{user.pk}/").content == b"Old"
    assert len(sql(q["replica"])) == 1 and sql(q["default"]) == []

    response = client.post(f"/write/{user.pk}/", {"name": "New"})
    cookie = response.cookies[PIN_COOKIE]
    assert cookie["max-age"] == 7 and cookie["httponly"]

    with queries_per_alias() as q:
        assert client.get(f"/read/{user.pk}/").content == b"New"
    assert sql(q["replica"]) == [] and len(sql(q["default"])) == 1

    client.cookies.pop(PIN_COOKIE)  # what the browser does once max-age has passed
    with queries_per_alias() as q:
        client.get(f"/read/{user.pk}/")
    assert len(sql(q["replica"])) == 1


@pytest.mark.urls("tests.tradeplatform.urls_replica_router")
def test_a_request_that_only_reads_sets_no_pin_cookie() -> None:
    user: Any = TraderFactory()
    response = Client().get(f"/read/{user.pk}/")
    assert PIN_COOKIE not in response.cookies


def _replica_reads_in(kind: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(TP_PROCESS_KIND=kind, DATABASE_REPLICA_URL=env.get("DATABASE_URL", ""))
    env.pop("DATABASE_REPLICA_READS", None)
    script = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASE_REPLICA_READS, sorted(settings.DATABASES))"
    )
    env["DJANGO_SETTINGS_MODULE"] = "tradeplatform.settings"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        check=True, timeout=60,
    )  # fmt: skip
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("web", "True"), ("worker", "False"), ("beat", "False"), ("command", "False")],
)
def test_with_a_replica_url_only_web_processes_read_from_it(kind: str, expected: str) -> None:
    assert _replica_reads_in(kind) == f"{expected} ['default', 'replica']"
