"""A database migrated by the old history (market data inside `backtesting`) upgrades to the
`marketdata` app with its tables, rows and permissions intact."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from backtesting.marketdata.models import Bar, Instrument, SeriesVersion

pytestmark = pytest.mark.django_db(transaction=True)

# The last migration of the old history, and "no market-data app yet".
OLD_HISTORY = [("backtesting", "0003_backtest_owner_running"), ("marketdata", None)]
MOVED_MODELS = ("instrument", "bar", "seriesversion")


def migrate(targets: list[tuple[str, str | None]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()  # re-read what is applied now
    return executor


def migrate_to_latest() -> None:
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.fixture
def old_database() -> Iterator[MigrationExecutor]:
    """The test database rolled back to the old history; back at the latest afterwards."""
    executor = migrate(OLD_HISTORY)
    try:
        yield executor
    finally:
        migrate_to_latest()
        ContentType.objects.clear_cache()


def old_content_types() -> dict[str, int]:
    """The content types an old database has (app label backtesting), with their permissions."""
    assert not ContentType.objects.filter(app_label="marketdata", model__in=MOVED_MODELS).exists()
    ids = {}
    for model in MOVED_MODELS:
        content_type, _ = ContentType.objects.get_or_create(app_label="backtesting", model=model)
        Permission.objects.get_or_create(
            content_type=content_type, codename=f"view_{model}", defaults={"name": model}
        )
        ids[model] = content_type.pk
    ContentType.objects.clear_cache()
    return ids


def test_the_old_history_upgrades_with_rows_intact(old_database):
    old_apps = old_database.loader.project_state([OLD_HISTORY[0]]).apps
    assert "marketdata" not in old_apps.all_models  # the old state really is the old layout
    old_instrument = old_apps.get_model("backtesting", "Instrument")
    old_bar = old_apps.get_model("backtesting", "Bar")
    old_version = old_apps.get_model("backtesting", "SeriesVersion")
    instrument = old_instrument.objects.create(symbol="OLD", timezone="America/New_York")
    day = datetime(2024, 1, 2, tzinfo=UTC)
    old_bar.objects.create(
        instrument=instrument, timeframe="1d", timestamp=day, open=10, high=12, low=9, close=11
    )
    old_version.objects.create(instrument=instrument, timeframe="1d", version=3)

    migrate_to_latest()

    moved = Instrument.objects.get(symbol="OLD")
    assert moved.pk == instrument.pk
    assert moved.timezone == "America/New_York"
    bar = Bar.objects.get(instrument=moved)
    assert (bar.timestamp, bar.open, bar.high, bar.low, bar.close) == (day, 10, 12, 9, 11)
    assert SeriesVersion.objects.get(instrument=moved, timeframe="1d").version == 3
    tables = {Instrument._meta.db_table, Bar._meta.db_table, SeriesVersion._meta.db_table}
    assert tables == {"marketdata_instrument", "marketdata_bar", "marketdata_series_version"}
    assert Instrument._meta.app_label == "marketdata"


def test_content_types_and_permissions_follow_the_models(old_database, owner):
    old_ids = old_content_types()
    owner.user_permissions.add(
        Permission.objects.get(content_type_id=old_ids["instrument"], codename="view_instrument")
    )

    migrate_to_latest()

    for model in MOVED_MODELS:
        content_type = ContentType.objects.get(app_label="marketdata", model=model)
        assert content_type.pk == old_ids[model]  # relabelled in place: grants still point at it
    assert not ContentType.objects.filter(app_label="backtesting", model__in=MOVED_MODELS).exists()
    assert ContentType.objects.get_for_model(Instrument).pk == old_ids["instrument"]
    owner = type(owner).objects.get(pk=owner.pk)  # a fresh permission cache
    assert owner.has_perm("marketdata.view_instrument")
