"""factory-boy factories shared by every app's tests."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import factory
from django.contrib.auth import get_user_model

from accounts.models import Role
from strategies.models import Strategy
from tests.strategies.samples import SMA_CROSS

DEFAULT_PASSWORD = "correct-horse-battery-staple-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    display_name = factory.LazyAttribute(lambda u: u.username.title())
    role = Role.TRADER
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def saved(obj: Any, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            obj.save()

    @factory.post_generation
    def role_group(obj: Any, create: bool, extracted: object, **kwargs: object) -> None:
        # As accounts.services does: the user's permissions come from their role's group.
        if create:
            from accounts.roles import sync_user_groups

            sync_user_groups(obj)


class TraderFactory(UserFactory):
    role = Role.TRADER


class ViewerFactory(UserFactory):
    role = Role.VIEWER


class OperatorFactory(UserFactory):
    role = Role.OPERATOR
    is_staff = True


# --- strategies ---------------------------------------------------------------------

SMA_CROSS_CODE = SMA_CROSS  # one sample strategy for every app's tests


class StrategyFactory(factory.django.DjangoModelFactory[Strategy]):
    """A strategy with version 1 (pass `code=` to choose its code, `code=""` for no version)."""

    class Meta:
        model = "strategies.Strategy"
        skip_postgeneration_save = True

    owner = factory.SubFactory(TraderFactory)
    name = factory.Sequence(lambda n: f"Strategy {n}")
    description = "A test strategy."
    is_shared = False

    @factory.post_generation
    def code(obj, create: bool, extracted: object, **kwargs: object) -> None:
        if create and extracted != "":
            StrategyVersionFactory(strategy=obj, code=extracted or SMA_CROSS_CODE)


class StrategyVersionFactory(factory.django.DjangoModelFactory):
    """The next version of `strategy` (numbers count up per strategy)."""

    class Meta:
        model = "strategies.StrategyVersion"

    strategy = factory.SubFactory(StrategyFactory, code="")
    number = factory.LazyAttribute(lambda v: v.strategy.versions.count() + 1)
    code = SMA_CROSS_CODE
    code_sha256 = factory.LazyAttribute(lambda v: hashlib.sha256(v.code.encode()).hexdigest())
    class_name = "SmaCross"
    parameters = factory.LazyFunction(
        lambda: [
            {"name": "fast", "type": "int", "default": 10, "min": 2, "max": 200, "step": 1,
             "choices": None, "description": "Fast SMA period (bars)"},
            {"name": "slow", "type": "int", "default": 20, "min": 5, "max": 400, "step": 1,
             "choices": None, "description": "Slow SMA period (bars)"},
        ]
    )  # fmt: skip
    author = factory.LazyAttribute(lambda v: v.strategy.owner)


# --- accounts -----------------------------------------------------------------------


class SuperuserFactory(UserFactory):
    role = Role.OPERATOR
    is_staff = True
    is_superuser = True


def totp_device_for(user: Any) -> Any:
    """A confirmed TOTP device: two-factor is on for `user`."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.create(user=user, name="test", confirmed=True)


def totp_code(device: Any) -> str:
    """The code the device's authenticator app shows right now."""
    from django_otp.oath import totp

    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


class InstrumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "marketdata.Instrument"
        django_get_or_create = ("symbol",)

    symbol = factory.Sequence(lambda n: f"SYM{n}")
    name = factory.LazyAttribute(lambda i: f"{i.symbol} Inc.")
    asset_class = "equity"
    exchange = "NASDAQ"
    currency = "USD"
    timezone = "America/New_York"


class BarFactory(factory.django.DjangoModelFactory):
    """A consistent daily bar; pass `timestamp` (aware, UTC) and the prices you care about."""

    class Meta:
        model = "marketdata.Bar"

    instrument = factory.SubFactory(InstrumentFactory)
    timeframe = "1d"
    timestamp = factory.Sequence(lambda n: datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=n))
    open = 100.0
    high = 101.0
    low = 99.0
    close = 100.5
    volume = 1000.0
