"""A bad staging/prod configuration is refused with one message naming every problem."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tradeplatform.config_checks import ConfigSnapshot, find_configuration_problems

PROJECT_ROOT = Path(__file__).resolve().parents[2]
GOOD_PROD = {
    "DJANGO_ENV": "prod",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "ALLOWED_HOSTS": "trade.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/tradeplatform",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}
_ENV_KEYS = (
    "DJANGO_ENV",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "RATELIMIT_LOAD_TEST_FACTOR",
    "RATELIMIT_API_RATE",
    "RATELIMIT_AUTH_RATE",
)


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in _ENV_KEYS}
    clean["VAR_DIR"] = str(PROJECT_ROOT / "var")
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def snapshot(**overrides) -> ConfigSnapshot:
    values = {
        "environment": "prod",
        "debug": False,
        "secret_key": GOOD_PROD["SECRET_KEY"],
        "allowed_hosts": ("trade.example.com",),
        "database_url": GOOD_PROD["DATABASE_URL"],
        "redis_url": GOOD_PROD["REDIS_URL"],
        "broker_url": GOOD_PROD["REDIS_URL"],
    }
    return ConfigSnapshot(**{**values, **overrides})


def test_a_complete_prod_configuration_has_no_problems():
    assert find_configuration_problems(snapshot()) == []


@pytest.mark.parametrize(
    ("override", "check_id"),
    [
        ({"debug": True}, "tradeplatform.E002"),
        ({"secret_key": ""}, "tradeplatform.E003"),
        ({"secret_key": "change-me"}, "tradeplatform.E003"),
        ({"secret_key": "django-insecure-" + "a" * 50}, "tradeplatform.E003"),
        ({"secret_key": "short-but-random-9f8e"}, "tradeplatform.E004"),
        ({"allowed_hosts": ()}, "tradeplatform.E005"),
        ({"allowed_hosts": ("*",)}, "tradeplatform.E006"),
        ({"database_url": ""}, "tradeplatform.E007"),
        ({"redis_url": ""}, "tradeplatform.E008"),
        ({"broker_url": ""}, "tradeplatform.E009"),
        ({"environment": "production"}, "tradeplatform.E001"),
        ({"ratelimit_load_test_factor": 20}, "tradeplatform.E011"),
        ({"ratelimit_load_test_factor": 0}, "tradeplatform.E010"),
    ],
)
def test_each_unsafe_setting_is_named(override, check_id):
    problems = find_configuration_problems(snapshot(**override))
    assert [p.check_id for p in problems] == [check_id]


def test_dev_and_test_relax_every_rule():
    for environment in ("dev", "test"):
        assert (
            find_configuration_problems(
                snapshot(environment=environment, debug=True, secret_key="")
            )
            == []
        )


def test_the_load_run_factor_is_accepted_outside_prod_but_never_below_one():
    for environment in ("dev", "test", "staging"):
        assert (
            find_configuration_problems(
                snapshot(environment=environment, ratelimit_load_test_factor=20)
            )
            == []
        )
    invalid = find_configuration_problems(snapshot(environment="dev", ratelimit_load_test_factor=0))
    assert [p.check_id for p in invalid] == ["tradeplatform.E010"]


def test_the_load_run_factor_multiplies_both_rate_limits():
    script = (
        "from django.conf import settings as s; print(s.RATELIMIT_API_RATE, s.RATELIMIT_AUTH_RATE)"
    )
    load_run = {
        "DJANGO_ENV": "test",
        "RATELIMIT_LOAD_TEST_FACTOR": "20",
        "RATELIMIT_AUTH_RATE": "7/h",
    }
    scaled = run_manage("shell", "-c", script, env=load_run)
    assert scaled.returncode == 0, scaled.stderr
    assert scaled.stdout.splitlines()[-1].split() == ["1200/m", "140/h"]
    plain = run_manage("shell", "-c", script, env={"DJANGO_ENV": "test"})
    assert plain.stdout.splitlines()[-1].split() == ["60/m", "5/m"]


def test_prod_refuses_to_start_with_the_load_run_factor():
    result = run_manage("check", env={**GOOD_PROD, "RATELIMIT_LOAD_TEST_FACTOR": "20"})
    assert result.returncode != 0
    assert "tradeplatform.E011" in result.stderr
    assert "refused in prod" in result.stderr


@pytest.fixture
def dotenv_from_make_run():
    """The checkout as a newcomer leaves it after `make run`: a .env with a real key, dev mode.

    Written only when absent (and removed afterwards), so a developer's own .env is untouched
    and the tests below run against it instead.
    """
    dotenv = PROJECT_ROOT / ".env"
    created = not dotenv.exists()
    if created:
        subprocess.run(["deploy/dev/make-dotenv.sh"], cwd=PROJECT_ROOT, check=True)
    assert "DJANGO_ENV=dev" in dotenv.read_text()
    yield dotenv
    if created:
        dotenv.unlink(missing_ok=True)


def test_the_suites_processes_ignore_the_dotenv_that_make_run_writes(dotenv_from_make_run):
    result = run_manage("check", env={"DJANGO_ENV": "prod", "DEBUG": "1"})

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr  # the .env's real key was not picked up


def test_dotenv_file_points_settings_at_another_file(tmp_path):
    dotenv = tmp_path / "custom.env"
    dotenv.write_text("ALLOWED_HOSTS=from-dotenv.example\n")
    script = "from django.conf import settings; print(settings.ALLOWED_HOSTS)"

    result = run_manage(
        "shell", "-c", script, env={"DJANGO_ENV": "dev", "DOTENV_FILE": str(dotenv)}
    )

    assert result.returncode == 0, result.stderr
    assert "from-dotenv.example" in result.stdout


def test_prod_without_configuration_refuses_to_start_naming_every_problem():
    result = run_manage("check", env={"DJANGO_ENV": "prod", "DEBUG": "1"})
    assert result.returncode != 0
    message = result.stderr
    assert "Refusing to start: the prod configuration has 6 problem(s)" in message
    for needle in (
        "DEBUG is on",
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "DATABASE_URL",
        "REDIS_URL",
        "CELERY_BROKER_URL",
    ):
        assert needle in message


def test_check_deploy_reports_the_same_problems_as_system_checks():
    result = run_manage(
        "check", "--deploy", env={"DJANGO_ENV": "staging", "CONFIG_CHECK_DEFER": "1"}
    )
    assert result.returncode != 0
    for check_id in ("E003", "E005", "E007", "E008", "E009"):
        assert f"tradeplatform.{check_id}" in result.stderr


def test_check_deploy_passes_clean_on_a_correct_prod_configuration():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=GOOD_PROD)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


_PRINT_DB_OPTIONS = "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS'].get('options'))"  # noqa: E501


@pytest.mark.parametrize(
    ("env", "options"),
    [
        # Below gunicorn's 30 s timeout: a slow query ends in a 503, not a killed web worker.
        ({"TP_PROCESS_KIND": "web"}, "-c statement_timeout=20000"),
        ({"TP_PROCESS_KIND": "web", "DB_STATEMENT_TIMEOUT": "2.5"}, "-c statement_timeout=2500"),
        ({"TP_PROCESS_KIND": "worker"}, "None"),  # a bar load may rightly take longer
        ({"TP_PROCESS_KIND": "web", "DATABASE_POOLER": "pgbouncer"}, "None"),  # set on the role
    ],
)
def test_web_processes_cap_each_statement_below_gunicorns_timeout(env, options):
    database = {"DJANGO_ENV": "test", "DATABASE_URL": "postgres://u@127.0.0.1:5432/x"}
    done = run_manage("shell", "-c", _PRINT_DB_OPTIONS, env={**database, **env})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == options
