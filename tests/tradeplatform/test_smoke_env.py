from django.conf import settings


def test_suite_runs_in_the_test_environment():
    assert settings.ENVIRONMENT == "test"
