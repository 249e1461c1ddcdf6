"""Mass assignment: fields a client must not set, sent to every write operation, never land.

Every operation of the OpenAPI schema that takes a body (POST, PUT, PATCH) is either in
WRITES (with a valid body and a check of the row it writes) or exempt with its reason, so a
new write operation fails `test_every_write_operation_is_covered` until it is covered. Each
gets the valid body plus HOSTILE_FIELDS: owner, role, staff and superuser flags, job status,
progress and results, ids, secrets. The answer is a success with the fields ignored or a 400;
the row written (or changed) must carry none of them. Pages are checked for the same below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from backtesting.models import Backtest, NotificationPreference, Webhook
from backtesting.optimization.models import Optimization
from backtesting.robustness.models import RobustnessRun
from backtesting.walkforward.models import WalkForward
from strategies.models import Strategy
from tests.factories import DEFAULT_PASSWORD, SMA_CROSS_CODE
from tests.security.routes import schema_writes
from tests.security.world import World, fresh_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_rate_limits")]
User = get_user_model()

FAR_PAST = "2001-01-01T00:00:00Z"


def hostile_fields(world: World) -> dict[str, Any]:
    """What an attacker adds to a request: someone else's ownership, privileges, a finished
    job's state, results and secrets of their choosing."""
    victim = world.victim.pk
    return {
        "id": 987_654, "pk": 987_654,
        "owner": victim, "owner_id": victim, "user": victim, "user_id": victim,
        "author": victim, "author_id": victim, "webhook": world.webhook.pk,
        "role": "operator", "is_staff": True, "is_superuser": True, "is_active": False,
        "token_version": 99, "quota_strategies": 10_000, "username": "renamed-by-attacker",
        "status": "succeeded", "progress": 1.0, "metrics": {"sharpe": 99.0},
        "result": {"total_return": 99.0}, "summary": {"x": 1}, "error_code": "forged",
        "error_message": "forged", "queue": "priority", "attempts": 9, "claim_token": "forged",
        "cancel_requested": True, "best_index": 0, "deflated": {"dsr": 1.0},
        "created_at": FAR_PAST, "queued_at": FAR_PAST, "finished_at": FAR_PAST,
        "archived_at": FAR_PAST, "cloned_from": world.strategy.versions.get(number=1).pk,
        "secret": "chosen-by-the-attacker", "confirmed": True, "is_shared": True,
        "rerun_of": world.finished.pk, "data_fingerprint": "forged",
    }  # fmt: skip


RUN_INPUT = {
    "instruments": ["AAA"],
    "timeframe": "1d",
    "start": "2015-01-01T00:00:00Z",
    "end": "2015-04-30T00:00:00Z",
    "parameters": {"fast": 5, "slow": 20},
}
SWEEP_INPUT = {
    **RUN_INPUT,
    "parameters": {},
    "space": {"kind": "grid", "parameters": {"fast": {"values": [3, 5]}}},
    "objective": "sharpe",
}


def _own_strategy(world: World) -> Strategy:
    return world.intruder_backtest.strategy_version.strategy


def _newest(model: Any) -> Any:
    return model.objects.order_by("-pk").first()


def _job_untouched(job: Any, world: World) -> None:
    """A job row the intruder created: theirs, queued, with nothing of the hostile fields."""
    assert job.owner_id == world.intruder.pk
    assert job.status == "queued" and job.progress == 0
    assert job.error_code == "" and job.attempts == 0 and not job.cancel_requested
    assert job.queued_at.year > 2001 and job.finished_at is None


def _user_untouched(user: Any) -> None:
    assert (user.role, user.is_staff, user.is_superuser, user.is_active) == (
        "trader", False, False, True,
    )  # fmt: skip
    assert user.token_version in (0, 1) and user.quota_strategies is None
    assert user.username != "renamed-by-attacker"


@dataclass(frozen=True)
class Write:
    body: Callable[[World], dict[str, Any]]
    check: Callable[[World], None]
    path: Callable[[World], str] | None = None  # the schema path filled in, if templated


def _check_strategy_created(world: World) -> None:
    strategy = _newest(Strategy)
    assert strategy.owner_id == world.intruder.pk and strategy.name == "mine"
    assert strategy.archived_at is None and strategy.cloned_from is None
    assert strategy.created_at.year > 2001
    assert {v.author_id for v in strategy.versions.all()} == {world.intruder.pk}


def _check_strategy_updated(world: World) -> None:
    strategy = Strategy.objects.get(pk=_own_strategy(world).pk)
    assert strategy.owner_id == world.intruder.pk and strategy.name == "renamed"
    assert strategy.archived_at is None and strategy.cloned_from is None
    assert {v.author_id for v in strategy.versions.all()} == {world.intruder.pk}


def _check_clone(world: World) -> None:
    clone = _newest(Strategy)
    assert clone.owner_id == world.intruder.pk and clone.archived_at is None
    assert clone.cloned_from.strategy_id == _own_strategy(world).pk


def _check_webhook(world: World) -> None:
    hook = _newest(Webhook)
    assert hook.owner_id == world.intruder.pk and hook.is_active
    assert hook.secret != "chosen-by-the-attacker"


def _check_preference(world: World) -> None:
    assert NotificationPreference.objects.get(owner=world.intruder).email_on_finish is True
    assert not NotificationPreference.objects.filter(owner=world.victim).exists()


def _check_registered(world: World) -> None:
    _user_untouched(User.objects.get(username="newcomer"))


def _check_me(world: World) -> None:
    _user_untouched(User.objects.get(pk=world.intruder.pk))


def _check_rerun(world: World) -> None:
    rerun = _newest(Backtest)
    _job_untouched(rerun, world)
    assert rerun.rerun_of_id == world.intruder_backtest.pk


def _check_nothing_promoted(world: World) -> None:
    _user_untouched(User.objects.get(pk=world.intruder.pk))
    _user_untouched(User.objects.get(pk=world.victim.pk))


WRITES: dict[tuple[str, str], Write] = {
    ("post", "/api/v1/strategies/"): Write(
        lambda w: {"name": "mine", "code": SMA_CROSS_CODE}, _check_strategy_created
    ),
    ("patch", "/api/v1/strategies/{id}/"): Write(
        lambda w: {"name": "renamed", "code": SMA_CROSS_CODE + "\n\n"},
        _check_strategy_updated,
        lambda w: f"/api/v1/strategies/{_own_strategy(w).pk}/",
    ),
    ("post", "/api/v1/strategies/{id}/clone/"): Write(
        lambda w: {}, _check_clone, lambda w: f"/api/v1/strategies/{_own_strategy(w).pk}/clone/"
    ),
    ("post", "/api/v1/backtests/"): Write(
        lambda w: {**RUN_INPUT, "strategy": _own_strategy(w).pk},
        lambda w: _job_untouched(_newest(Backtest), w),
    ),
    ("post", "/api/v1/backtests/{id}/rerun/"): Write(
        lambda w: {}, _check_rerun, lambda w: f"/api/v1/backtests/{w.intruder_backtest.pk}/rerun/"
    ),
    ("post", "/api/v1/backtests/{id}/robustness/"): Write(
        lambda w: {"kind": "lookahead", "parameters": {"n_checks": 2}},
        lambda w: _job_untouched(_newest(RobustnessRun), w),
        lambda w: f"/api/v1/backtests/{w.intruder_backtest.pk}/robustness/",
    ),
    ("post", "/api/v1/optimizations/"): Write(
        lambda w: {**SWEEP_INPUT, "strategy": _own_strategy(w).pk},
        lambda w: _job_untouched(_newest(Optimization), w),
    ),
    ("post", "/api/v1/walkforwards/"): Write(
        lambda w: {
            **SWEEP_INPUT,
            "strategy": _own_strategy(w).pk,
            "in_sample_bars": 40,
            "out_of_sample_bars": 20,
        },
        lambda w: _job_untouched(_newest(WalkForward), w),
    ),
    ("post", "/api/v1/webhooks/"): Write(
        lambda w: {"url": "https://93.184.216.34/mine"}, _check_webhook
    ),
    ("put", "/api/v1/notifications/"): Write(
        lambda w: {"email_on_finish": True}, _check_preference
    ),
    ("post", "/api/v1/auth/register/"): Write(
        lambda w: {
            "username": "newcomer",
            "email": "new@example.com",
            "password": DEFAULT_PASSWORD,
        },
        _check_registered,
    ),
    ("patch", "/api/v1/auth/me/"): Write(lambda w: {"display_name": "Me"}, _check_me),
    ("post", "/api/v1/auth/password/change/"): Write(
        lambda w: {"old_password": DEFAULT_PASSWORD, "new_password": "An0ther-long-secret"},
        _check_nothing_promoted,
    ),
    ("post", "/api/v1/auth/2fa/totp/"): Write(
        lambda w: {},
        lambda w: _check_unconfirmed_device(w),
    ),
}

# Write operations that create or change no row a client could own or promote, and why.
EXEMPT = {
    ("post", "/api/v1/auth/token/"): "issues tokens; the claims are the server's (test_jwt)",
    ("post", "/api/v1/auth/token/refresh/"): "rotates a token (test_jwt)",
    ("post", "/api/v1/auth/token/verify/"): "reads a token",
    ("post", "/api/v1/auth/logout/"): "revokes a token family",
    ("post", "/api/v1/auth/password/reset/"): "sends an email, writes nothing",
    ("post", "/api/v1/auth/password/reset/confirm/"): "sets a password by a signed link",
    ("post", "/api/v1/auth/2fa/totp/confirm/"): "confirms the caller's own device by a code",
    ("post", "/api/v1/auth/2fa/totp/disable/"): "deletes the caller's own device by a code",
    ("post", "/api/v1/strategies/validate/"): "stores nothing",
    ("post", "/api/v1/backtests/{id}/cancel/"): "no body; cancels the caller's own job",
    ("post", "/api/v1/optimizations/{id}/cancel/"): "no body; as above",
    ("post", "/api/v1/walkforwards/{id}/cancel/"): "no body; as above",
    ("post", "/api/v1/robustness/{id}/cancel/"): "no body; as above",
    ("post", "/api/v1/optimizations/{id}/results/{index}/backtest/"):
        "no body; the backtest is the result's, run for the caller (test_ownership)",
    ("post", "/api/v1/dead-letters/{id}/requeue/"): "operators only",
    ("post", "/api/v1/marketdata/instruments/{symbol}/bars/import/"): "operators only; bars",
}  # fmt: skip


def _check_unconfirmed_device(world: World) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    devices = TOTPDevice.objects.filter(user=world.intruder)
    assert [d.confirmed for d in devices] == [False]
    assert not TOTPDevice.objects.filter(user=world.victim).exists()


def test_every_write_operation_is_covered():
    writes = schema_writes()
    assert writes - WRITES.keys() - EXEMPT.keys() == set(), "write operations not covered"
    assert (WRITES.keys() | EXEMPT.keys()) - writes == set(), "covered operations gone"


@pytest.mark.parametrize("operation", sorted(WRITES), ids=" ".join)
def test_fields_a_client_must_not_set_are_never_applied(world, operation):
    method, schema_path = operation
    write = WRITES[operation]
    path = write.path(world) if write.path else schema_path
    client = APIClient()
    if path != "/api/v1/auth/register/":
        client.force_authenticate(fresh_user(world.intruder))
    body = {**hostile_fields(world), **write.body(world)}
    response = getattr(client, method)(path, body, format="json")
    assert response.status_code < 300 or response.status_code == 400, response.content
    if response.status_code == 400:  # refused: then nothing was written either
        return
    write.check(world)


def test_the_profile_form_changes_no_role_or_flag(world):
    client = Client()
    client.force_login(fresh_user(world.intruder))
    form = {"display_name": "Me", "email": "intruder@example.com", **hostile_fields(world)}
    response = client.post("/accounts/", {k: v for k, v in form.items() if not isinstance(v, dict)})
    assert response.status_code in (200, 302)
    _user_untouched(User.objects.get(pk=world.intruder.pk))


def test_the_sign_up_form_makes_a_plain_trader(world):
    form = {
        "username": "formcomer", "email": "formcomer@example.com",
        "password": DEFAULT_PASSWORD,
        **{k: v for k, v in hostile_fields(world).items() if not isinstance(v, dict)},
    }  # fmt: skip
    form["username"] = "formcomer"
    response = Client().post("/accounts/signup/", form)
    assert response.status_code == 302, response.context["form"].errors
    _user_untouched(User.objects.get(username="formcomer"))


def test_the_strategy_form_makes_a_strategy_of_the_signed_in_user(world):
    client = Client()
    client.force_login(fresh_user(world.intruder))
    form = {**{k: v for k, v in hostile_fields(world).items() if not isinstance(v, dict)},
            "name": "mine", "description": "", "code": SMA_CROSS_CODE}  # fmt: skip
    response = client.post("/strategies/new/", form)
    assert response.status_code == 302, response.content[:500]
    assert response["Location"] == f"/strategies/{_newest(Strategy).pk}/"
    _check_strategy_created(world)
