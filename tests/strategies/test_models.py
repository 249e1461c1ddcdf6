"""Strategy and StrategyVersion: constraints, immutability and QuerySet scoping."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.access import mark_otp_verified
from strategies.models import ImmutableVersionError, Strategy, StrategyVersion, code_sha256
from tests.factories import SMA_CROSS_CODE, StrategyFactory, StrategyVersionFactory

pytestmark = pytest.mark.django_db


def test_code_sha256_is_the_hex_digest_of_the_utf8_code():
    assert code_sha256("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert len(code_sha256(SMA_CROSS_CODE)) == 64


def test_a_saved_version_cannot_be_changed():
    version = StrategyVersionFactory()
    version.code = "changed"
    with pytest.raises(ImmutableVersionError):
        version.save()
    with pytest.raises(ImmutableVersionError):
        StrategyVersion.objects.filter(pk=version.pk).update(code="changed")
    assert StrategyVersion.objects.get(pk=version.pk).code == SMA_CROSS_CODE


def test_version_numbers_are_unique_per_strategy():
    strategy = StrategyFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        StrategyVersionFactory(strategy=strategy, number=1)
    StrategyVersionFactory(number=1)  # another strategy may have its own version 1


def test_names_are_unique_per_owner_among_active_strategies(owner, other_user):
    StrategyFactory(owner=owner, name="Trend")
    StrategyFactory(owner=other_user, name="Trend")
    with pytest.raises(IntegrityError), transaction.atomic():
        StrategyFactory(owner=owner, name="Trend", code="")


def test_an_archived_strategy_frees_its_name(owner):
    StrategyFactory(owner=owner, name="Trend", archived_at=timezone.now())
    StrategyFactory(owner=owner, name="Trend")
    assert Strategy.objects.filter(name="Trend").count() == 2


def test_visible_to_is_own_plus_shared(owner, other_user):
    mine = StrategyFactory(owner=owner)
    shared = StrategyFactory(owner=other_user, is_shared=True)
    StrategyFactory(owner=other_user)
    assert set(Strategy.objects.visible_to(owner)) == {mine, shared}
    assert set(Strategy.objects.editable_by(owner)) == {mine}


def test_a_verified_operator_sees_and_edits_everything(operator, owner):
    strategy = StrategyFactory(owner=owner)
    mark_otp_verified(operator)
    assert list(Strategy.objects.visible_to(operator)) == [strategy]
    assert list(Strategy.objects.editable_by(operator)) == [strategy]


def test_active_hides_archived_and_latest_version_number_is_annotated(owner):
    strategy = StrategyFactory(owner=owner)
    StrategyVersionFactory(strategy=strategy, code="x = 1\n")
    StrategyFactory(owner=owner, archived_at=timezone.now())
    rows = list(Strategy.objects.active().with_latest_version_number())
    assert rows == [strategy]
    assert rows[0].latest_version_number == 2
    assert strategy.latest_version().number == 2
