"""factory-boy factories shared by every app's tests."""

from __future__ import annotations

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
    def saved(obj, create: bool, extracted: object, **kwargs: object) -> None:  # noqa: N805
        if create:
            obj.save()


class TraderFactory(UserFactory):
    role = Role.TRADER


class ViewerFactory(UserFactory):
    role = Role.VIEWER


class OperatorFactory(UserFactory):
    role = Role.OPERATOR
    is_staff = True
