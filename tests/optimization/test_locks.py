"""Row locks between the workers of one sweep, on a real PostgreSQL (committed transactions)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.db import connection

from backtesting.optimization import services
from backtesting.optimization.models import OptimizationResult

pytestmark = pytest.mark.django_db(transaction=True)


def test_another_chunk_commits_its_rows_while_the_sweep_advances(sweep, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("row-lock modes are PostgreSQL's")  # the embedded SQLite has one writer
    optimization = sweep()
    # The sweep decides with its row locked: here its chunks have ended and a cancel was
    # asked, so the advance ends it, inside the lock.
    optimization.chunks.update(status="cancelled")
    type(optimization).objects.filter(pk=optimization.pk).update(cancel_requested=True)
    db = connection.settings_dict
    other = psycopg.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"] or 5432,
        password=db["PASSWORD"] or None,
    )  # fmt: skip
    # Another worker's chunk has inserted its rows; their foreign key is checked at commit
    # (Django's are deferred), taking FOR KEY SHARE on the sweep's row.
    other.execute("SET lock_timeout = '1s'")
    other.execute(
        "INSERT INTO optimization_optimizationresult "
        '(optimization_id, "index", parameters, status, metrics, error_message) '
        "VALUES (%s, 0, '{}', 'ok', '{}', '')",
        [optimization.pk],
    )
    outcome: dict[str, Any] = {}
    real_end = services._end

    def commit_meanwhile(*args: Any, **kwargs: Any) -> None:
        try:
            other.commit()  # while the advance holds the sweep's row
            outcome["committed"] = True
        except psycopg.errors.LockNotAvailable:
            outcome["committed"] = False
        real_end(*args, **kwargs)

    monkeypatch.setattr(services, "_end", commit_meanwhile)
    try:
        services.optimization_advance(optimization_id=optimization.pk)
    finally:
        other.close()
    # FOR UPDATE held that commit (and the other worker's chunk) until the advance ended.
    assert outcome == {"committed": True}
    assert OptimizationResult.objects.filter(optimization=optimization).count() == 1
    optimization.refresh_from_db()
    assert optimization.status == "cancelled"
