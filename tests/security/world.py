"""One user's complete world of objects, and a second user who attacks it.

The victim owns one object of every kind a user can create: a private strategy with two
versions, a finished backtest (with trades and a result), a queued one, a finished and a
queued sweep, a finished and a queued walk-forward, a robustness run, a webhook with a
delivery. The intruder is a trader with a finished backtest of their own (what a request
mixing their ids with the victim's needs).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import connection

from accounts.tokens import tokens_issue
from backtesting.models import Webhook, WebhookDelivery
from backtesting.robustness.services import robustness_submit
from backtesting.services import backtest_submit
from strategies.services import strategy_update
from tests.backtesting.conftest import execute_job, make_input, seed_bars
from tests.factories import StrategyFactory, TraderFactory
from tests.optimization.conftest import sweep_optimizations
from tests.walkforward.conftest import conformance_walkforwards

# An id no row has: what a foreign object's answer is compared with.
MISSING_ID = 2_147_483_000
# Tables whose rows a hostile request could change; market bars are global and large.
SNAPSHOT_APPS = ("accounts", "strategies", "backtesting", "optimization", "robustness",
                 "walkforward", "otp_totp", "token_blacklist")  # fmt: skip
SNAPSHOT_SKIP = {("marketdata", "Bar")}
# Columns a signed-in request writes by design, whoever makes it.
VOLATILE_COLUMNS = {"last_login"}


@dataclass
class World:
    victim: Any
    intruder: Any
    intruder_token: str
    strategy: Any  # the victim's, private, versions 1 and 2
    finished: Any  # the victim's succeeded backtest
    queued: Any
    optimization: Any  # finished
    queued_optimization: Any
    walkforward: Any  # finished
    queued_walkforward: Any
    robustness_run: Any
    webhook: Any
    intruder_backtest: Any  # succeeded, the intruder's own


def world_build() -> World:
    """Every object of the victim's, made through the services as a user would."""
    victim: Any = TraderFactory(username="victim", email="victim@example.com")
    intruder: Any = TraderFactory(username="intruder", email="intruder@example.com")
    seed_bars("AAA", n=120)
    strategy: Any = StrategyFactory(owner=victim, name="Victim's private strategy")
    strategy_update(strategy=strategy, user=victim, code=strategy.versions.get().code + "\n")
    version = strategy.versions.get(number=2)
    finished = execute_job(backtest_submit(owner=victim, data=make_input(version)).pk)
    queued = backtest_submit(owner=victim, data=make_input(version))
    optimization, queued_optimization = sweep_optimizations(victim, version)
    walkforward, queued_walkforward = conformance_walkforwards(victim, version)
    webhook = Webhook.objects.create(owner=victim, url="https://93.184.216.34/hook")
    WebhookDelivery.objects.create(webhook=webhook, backtest=finished, event={"type": "x"})
    intruder_strategy: Any = StrategyFactory(owner=intruder)
    intruder_version = intruder_strategy.versions.get()
    intruder_backtest = execute_job(
        backtest_submit(owner=intruder, data=make_input(intruder_version)).pk
    )
    return World(
        victim=victim,
        intruder=intruder,
        intruder_token=tokens_issue(intruder, otp_verified=False)["access"],
        strategy=strategy,
        finished=finished,
        queued=queued,
        optimization=optimization,
        queued_optimization=queued_optimization,
        walkforward=walkforward,
        queued_walkforward=queued_walkforward,
        robustness_run=robustness_submit(
            owner=victim, backtest=finished, kind="lookahead", parameters={"n_checks": 2}
        ),
        webhook=webhook,
        intruder_backtest=intruder_backtest,
    )


def database_snapshot() -> dict[str, str]:
    """A digest of every row of every table a request could change, per table."""
    tables = _snapshot_tables()
    if connection.vendor == "postgresql":  # one round trip, the rows never leave the server
        digest = "(SELECT md5(coalesce(string_agg(ROW({})::text, '|' ORDER BY {}), '')) FROM {})"
        sql = ", ".join(digest.format(", ".join(cols), pk, table) for _, table, pk, cols in tables)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {sql}")
            return dict(zip([label for label, *_ in tables], cursor.fetchone(), strict=True))
    digests = {}
    for label, table, pk, cols in tables:
        with connection.cursor() as cursor:
            query = f"SELECT {', '.join(cols)} FROM {table} ORDER BY {pk}"  # noqa: S608 (as above)
            cursor.execute(query)
            digests[label] = hashlib.sha256(repr(cursor.fetchall()).encode()).hexdigest()
    return digests


def _snapshot_tables() -> list[tuple[str, str, str, list[str]]]:
    """(label, quoted table, quoted primary key, quoted columns) of each snapshot table."""
    quote = connection.ops.quote_name
    tables = []
    for model in apps.get_models():
        meta = model._meta
        if meta.app_label not in SNAPSHOT_APPS or (meta.app_label, model.__name__) in SNAPSHOT_SKIP:
            continue
        columns = [
            quote(str(f.column)) for f in meta.concrete_fields if f.attname not in VOLATILE_COLUMNS
        ]
        tables.append((meta.label, quote(meta.db_table), quote(str(meta.pk.column)), columns))
    return tables


def snapshot_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The tables whose rows differ between two snapshots."""
    return sorted(
        label for label in before.keys() | after.keys() if before.get(label) != after.get(label)
    )


def fresh_user(user: Any) -> Any:
    """The user as stored: a password change in one test must not leak into the next
    through a shared instance (the database side is rolled back, the instance is not)."""
    return type(user).objects.get(pk=user.pk)
