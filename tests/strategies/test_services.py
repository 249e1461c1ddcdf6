"""Strategy services: roles, quotas, versioning, archiving, cloning and the demo loader."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from accounts.quotas import QuotaExceededError
from strategies.library import example_list
from strategies.models import Strategy
from strategies.services import (
    StrategyCodeError,
    strategy_clone,
    strategy_create,
    strategy_delete,
    strategy_update,
)
from tests.factories import SMA_CROSS_CODE, StrategyFactory, TraderFactory
from tradeplatform.errors import DomainValidationError, PermissionDeniedError

pytestmark = pytest.mark.django_db

CHANGED_CODE = SMA_CROSS_CODE.replace("Param(20,", "Param(25,")


def create(owner, name="SMA", code=SMA_CROSS_CODE, **kwargs) -> Strategy:
    return strategy_create(owner=owner, name=name, description="", code=code, **kwargs)


def test_create_stores_version_one_with_hash_parameters_and_author(owner):
    strategy = create(owner, shared=True)

    version = strategy.versions.get()
    assert strategy.is_shared
    assert version.number == 1
    assert version.author == owner
    assert version.class_name == "SmaCross"
    assert version.code_sha256 == Strategy.objects.get().versions.get().code_sha256
    assert version.parameters[0] == {
        "name": "fast",
        "type": "int",
        "default": 10,
        "min": 2,
        "max": 200,
        "step": 1,
        "choices": None,
        "description": "Fast SMA period (bars)",
    }


def test_create_refuses_a_viewer(viewer):
    with pytest.raises(PermissionDeniedError):
        create(viewer)


def test_create_with_invalid_code_lists_every_problem_and_stores_nothing(owner):
    with pytest.raises(StrategyCodeError) as caught:
        create(owner, code="import os\nimport sys\n")
    lines = [problem["line"] for problem in caught.value.details["problems"]]
    assert 1 in lines and 2 in lines
    assert not Strategy.objects.exists()


def test_create_enforces_the_strategy_quota_per_role(owner, settings):
    settings.QUOTAS = {**settings.QUOTAS, "trader": {**settings.QUOTAS["trader"], "strategies": 2}}
    create(owner, name="one")
    create(owner, name="two")
    with pytest.raises(QuotaExceededError) as caught:
        create(owner, name="three")
    assert caught.value.status_code == 403
    assert Strategy.objects.count() == 2


def test_archived_strategies_do_not_count_against_the_quota(owner, settings):
    settings.QUOTAS = {**settings.QUOTAS, "trader": {**settings.QUOTAS["trader"], "strategies": 1}}
    strategy_delete(strategy=create(owner, name="old"), user=owner)
    assert create(owner, name="new")


def test_update_with_new_code_adds_a_version_and_keeps_the_old_one(owner):
    strategy = create(owner)

    version = strategy_update(strategy=strategy, user=owner, code=CHANGED_CODE)

    assert version is not None and version.number == 2
    assert strategy.versions.get(number=1).code == SMA_CROSS_CODE
    assert strategy.versions.get(number=2).parameters[1]["default"] == 25


def test_update_with_the_same_code_adds_no_version(owner):
    strategy = create(owner)
    assert strategy_update(strategy=strategy, user=owner, code=SMA_CROSS_CODE) is None
    assert strategy_update(strategy=strategy, user=owner, name="Renamed") is None
    strategy.refresh_from_db()
    assert strategy.name == "Renamed"
    assert strategy.versions.count() == 1


def test_going_back_to_earlier_code_is_a_new_version(owner):
    strategy = create(owner)
    strategy_update(strategy=strategy, user=owner, code=CHANGED_CODE)
    version = strategy_update(strategy=strategy, user=owner, code=SMA_CROSS_CODE)
    assert version is not None and version.number == 3


def test_update_by_another_trader_is_refused(owner, other_user):
    strategy = create(owner, shared=True)
    with pytest.raises(PermissionDeniedError):
        strategy_update(strategy=strategy, user=other_user, code=CHANGED_CODE)
    assert strategy.versions.count() == 1


def test_update_to_a_taken_name_is_a_field_error(owner):
    create(owner, name="A")
    strategy = create(owner, name="B")
    with pytest.raises(DomainValidationError) as caught:
        strategy_update(strategy=strategy, user=owner, name="A")
    assert "name" in caught.value.details


def test_delete_archives_and_an_archived_strategy_cannot_be_edited(owner):
    strategy = create(owner, shared=True)
    strategy_delete(strategy=strategy, user=owner)
    strategy.refresh_from_db()
    assert strategy.is_archived
    assert not strategy.is_shared
    assert strategy.versions.count() == 1
    with pytest.raises(PermissionDeniedError):
        strategy_update(strategy=strategy, user=owner, name="x")


def test_clone_copies_the_latest_version_of_a_shared_strategy(owner, other_user):
    source = create(other_user, name="Theirs", shared=True)
    strategy_update(strategy=source, user=other_user, code=CHANGED_CODE)

    clone = strategy_clone(strategy=source, new_owner=owner)

    assert clone.owner == owner
    assert not clone.is_shared
    assert clone.versions.get().code == CHANGED_CODE
    assert clone.cloned_from == source.versions.get(number=2)


def test_clone_of_someone_elses_private_strategy_is_refused(owner, other_user):
    with pytest.raises(PermissionDeniedError):
        strategy_clone(strategy=create(other_user), new_owner=owner)


def test_clone_counts_against_the_quota(owner, other_user, settings):
    settings.QUOTAS = {**settings.QUOTAS, "trader": {**settings.QUOTAS["trader"], "strategies": 1}}
    create(owner, name="mine")
    with pytest.raises(QuotaExceededError):
        strategy_clone(strategy=create(other_user, shared=True), new_owner=owner)


def test_clone_picks_copy_names_that_are_free(owner):
    source = create(owner, name="Trend")
    assert strategy_clone(strategy=source, new_owner=owner).name == "Trend (copy)"
    assert strategy_clone(strategy=source, new_owner=owner).name == "Trend (copy 2)"


def test_load_demo_strategies_is_idempotent(settings):
    settings.QUOTAS = {
        **settings.QUOTAS,
        "trader": {**settings.QUOTAS["trader"], "strategies": None},
    }
    demo = TraderFactory(username="demo")

    call_command("load_demo_strategies", "--user", "demo", "--shared")
    call_command("load_demo_strategies", "--user", "demo")

    strategies = Strategy.objects.filter(owner=demo)
    assert strategies.count() == len(example_list())
    assert all(s.is_shared and s.versions.count() == 1 for s in strategies)
    assert {s.name for s in strategies} == {example.name for example in example_list()}


def test_load_demo_strategies_needs_an_existing_user(db):
    with pytest.raises(CommandError):
        call_command("load_demo_strategies", "--user", "nobody")


def test_services_accept_a_factory_made_strategy(owner):
    strategy = StrategyFactory(owner=owner)
    assert strategy_update(strategy=strategy, user=owner, code=CHANGED_CODE).number == 2
