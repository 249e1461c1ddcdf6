import pytest
from django.conf import settings
from django.contrib.auth import get_user_model


def test_suite_runs_in_the_test_environment():
    assert settings.ENVIRONMENT == "test"


@pytest.mark.django_db
def test_database_round_trip():
    get_user_model().objects.create_user("smoke", "smoke@example.com", "x" * 12)
    assert get_user_model().objects.filter(email__iexact="SMOKE@example.com").exists()
