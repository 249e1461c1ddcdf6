"""factory-boy factories shared by every app's tests."""

from __future__ import annotations

import hashlib
from typing import Any

import factory
from django.contrib.auth import get_user_model

from accounts.models import Role

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


class TraderFactory(UserFactory):
    role = Role.TRADER


class ViewerFactory(UserFactory):
    role = Role.VIEWER


class OperatorFactory(UserFactory):
    role = Role.OPERATOR
    is_staff = True


# --- strategies ---------------------------------------------------------------------

SMA_CROSS_CODE = '''from strategy import Strategy, Param
import indicators as ta


class SmaCross(Strategy):
    """Long when the fast SMA is above the slow SMA."""

    fast = Param(10, min=2, max=200, step=1, description="Fast SMA period (bars)")
    slow = Param(20, min=5, max=400, step=1, description="Slow SMA period (bars)")

    def init(self):
        self.sma_fast = self.I(ta.sma, self.data.close, self.fast)
        self.sma_slow = self.I(ta.sma, self.data.close, self.slow)

    def next(self):
        if ta.crossover(self.sma_fast, self.sma_slow):
            self.buy()
        elif ta.crossunder(self.sma_fast, self.sma_slow):
            self.close()
'''


class StrategyFactory(factory.django.DjangoModelFactory):
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
