"""Refresh-token rotation: one use per token, and a reused token ends its whole sign-in."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.tokens import REFRESH_REUSES, TOKEN_VERSION_CLAIM
from tests.accounts.helpers import LOGOUT, REFRESH, VERIFY, assert_envelope, claims, tokens_for

PARALLEL = 8


def _refresh(token: str):
    return APIClient().post(REFRESH, {"refresh": token}, format="json")


def _refreshed(token: str) -> dict[str, str]:
    response = _refresh(token)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.django_db
def test_a_refresh_token_rotates_into_a_working_pair(owner):
    pair = _refreshed(tokens_for("owner")["refresh"])
    assert _refresh(pair["refresh"]).status_code == 200


@pytest.mark.django_db
def test_reusing_a_rotated_refresh_token_revokes_every_token_of_its_sign_in(owner):
    first = tokens_for("owner")
    second = _refreshed(first["refresh"])
    third = _refreshed(second["refresh"])

    assert_envelope(_refresh(first["refresh"]), 401, "token_revoked")

    for token in (first["refresh"], second["refresh"], third["refresh"]):
        assert_envelope(_refresh(token), 401)
        assert_envelope(APIClient().post(VERIFY, {"token": token}, format="json"), 401)


@pytest.mark.django_db
def test_reuse_is_logged_and_counted_for_operators(owner, caplog):
    before = REFRESH_REUSES._value.get()
    first = tokens_for("owner")
    _refreshed(first["refresh"])
    with caplog.at_level("WARNING", logger="tradeplatform.security"):
        _refresh(first["refresh"])
    events = [r for r in caplog.records if getattr(r, "event", "") == "refresh_reuse"]
    assert len(events) == 1 and events[0].user_id == owner.pk
    assert REFRESH_REUSES._value.get() == before + 1


@pytest.mark.django_db
def test_logout_ends_the_sign_in_without_being_taken_for_reuse(owner, caplog):
    before = REFRESH_REUSES._value.get()
    current = _refreshed(tokens_for("owner")["refresh"])
    logout = APIClient().post(LOGOUT, {"refresh": current["refresh"]}, format="json")
    assert logout.status_code == 204
    with caplog.at_level("WARNING", logger="tradeplatform.security"):
        assert_envelope(_refresh(current["refresh"]), 401, "token_revoked")
    assert REFRESH_REUSES._value.get() == before
    assert not [r for r in caplog.records if getattr(r, "event", "") == "refresh_reuse"]


@pytest.mark.django_db
def test_logout_with_a_rotated_token_is_reuse_and_revokes_the_sign_in(owner):
    first = tokens_for("owner")
    second = _refreshed(first["refresh"])
    stale = APIClient().post(LOGOUT, {"refresh": first["refresh"]}, format="json")
    assert_envelope(stale, 401, "token_revoked")
    assert_envelope(_refresh(second["refresh"]), 401)


@pytest.mark.django_db
def test_a_refresh_token_from_before_families_rotates_once_and_joins_one(owner):
    from rest_framework_simplejwt.tokens import RefreshToken

    legacy = RefreshToken.for_user(owner)  # outstanding, but no `fam` claim
    legacy[TOKEN_VERSION_CLAIM] = owner.token_version
    new = _refreshed(str(legacy))
    assert claims(new["refresh"])["fam"]
    assert_envelope(_refresh(str(legacy)), 401)
    assert _refresh(new["refresh"]).status_code == 200


@pytest.mark.django_db
def test_reuse_in_one_sign_in_leaves_the_users_other_sign_ins_alone(owner):
    laptop = tokens_for("owner")
    phone = tokens_for("owner")
    _refreshed(laptop["refresh"])
    assert_envelope(_refresh(laptop["refresh"]), 401, "token_revoked")
    assert _refresh(phone["refresh"]).status_code == 200


def test_the_same_refresh_token_sent_in_parallel_rotates_exactly_once(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks; SQLite serialises writers differently")
    from tests.factories import TraderFactory

    TraderFactory(username="owner")
    token = tokens_for("owner")["refresh"]
    barrier = threading.Barrier(PARALLEL)

    def refresh_in_own_connection(n: int):
        try:
            barrier.wait(timeout=30)
            return APIClient().post(
                REFRESH, {"refresh": token}, format="json", REMOTE_ADDR=f"10.7.0.{n}"
            )
        finally:
            connection.close()  # each thread has its own connection; give it back

    with ThreadPoolExecutor(PARALLEL) as pool:
        responses = list(pool.map(refresh_in_own_connection, range(PARALLEL)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [401] * (PARALLEL - 1), [r.content for r in responses]
    winner = next(r.json() for r in responses if r.status_code == 200)
    # The losers presented a token that had just been rotated: that is reuse, so the
    # winner's pair dies with the rest of the family (someone else holds a copy).
    for refresh in (token, winner["refresh"]):
        assert_envelope(_refresh(refresh), 401)
