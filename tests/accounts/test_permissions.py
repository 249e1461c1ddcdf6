"""Roles, the permission classes and ownership scoping (owner, other user, operator)."""

from __future__ import annotations

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.access import has_operator_access, mark_otp_verified
from accounts.models import Role
from accounts.ownership import OwnedQuerySet, get_editable_or_404, get_visible_or_404
from tests.accounts.helpers import assert_envelope
from tradeplatform.errors import NotFoundError, PermissionDeniedError

pytestmark = pytest.mark.django_db
URLS = "tests.accounts.urls_ownership"


class DeviceQuerySet(OwnedQuerySet):
    """A test-only owned "thing": TOTP devices, owned by `user`, shared when confirmed."""

    owner_field = "user"
    shared_field = "confirmed"


def things() -> DeviceQuerySet:
    return DeviceQuerySet(model=TOTPDevice)


def make_thing(user, shared: bool = False) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="thing", confirmed=shared)


# --- roles -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role,viewer,trader,operator",
    [
        (Role.VIEWER, True, False, False),
        (Role.TRADER, True, True, False),
        (Role.OPERATOR, True, True, True),
    ],
)
def test_roles_rank(role, viewer, trader, operator):
    from tests.factories import UserFactory

    user = UserFactory(role=role)
    assert (user.has_role("viewer"), user.has_role("trader"), user.has_role("operator")) == (
        viewer,
        trader,
        operator,
    )


def test_a_superuser_ranks_as_operator_and_an_inactive_user_has_no_role(superuser, owner):
    assert superuser.has_role(Role.OPERATOR)
    owner.is_active = False
    assert not owner.has_role(Role.VIEWER)


def test_operator_access_needs_two_factor(operator):
    assert not has_operator_access(operator)
    mark_otp_verified(operator)
    assert has_operator_access(operator)


# --- ownership helpers ----------------------------------------------------------------


def test_visible_to_scopes_to_the_owner_and_shared_rows(owner, other_user):
    mine, theirs, shared = make_thing(owner), make_thing(other_user), make_thing(other_user, True)
    assert set(things().visible_to(owner)) == {mine, shared}
    assert set(things().visible_to(owner, include_shared=False)) == {mine}
    assert set(things().editable_by(owner)) == {mine}
    assert set(things().owned_by(owner)) == {mine}
    assert theirs not in things().visible_to(owner)


def test_a_verified_operator_sees_and_edits_everything(operator, owner):
    thing = make_thing(owner)
    assert list(things().visible_to(operator)) == []
    mark_otp_verified(operator)
    assert list(things().visible_to(operator)) == [thing]
    assert list(things().editable_by(operator)) == [thing]


def test_anonymous_sees_nothing(owner):
    from django.contrib.auth.models import AnonymousUser

    make_thing(owner, shared=True)
    assert not things().visible_to(AnonymousUser()).exists()


def test_get_helpers_answer_404_for_foreign_and_403_for_shared_rows(owner, other_user):
    theirs, shared = make_thing(other_user), make_thing(other_user, True)
    with pytest.raises(NotFoundError):
        get_visible_or_404(things(), owner, pk=theirs.pk)
    with pytest.raises(NotFoundError):
        get_editable_or_404(things(), owner, pk=theirs.pk)
    with pytest.raises(NotFoundError):
        get_visible_or_404(things(), owner, pk="not-a-number")
    assert get_visible_or_404(things(), owner, pk=shared.pk) == shared
    with pytest.raises(PermissionDeniedError):
        get_editable_or_404(things(), owner, pk=shared.pk)


# --- through an API (test URLconf) -------------------------------------------------------


def client_for(user, verified: bool = False) -> APIClient:
    client = APIClient()
    if verified:
        mark_otp_verified(user)
    client.force_authenticate(user)
    return client


@pytest.mark.urls(URLS)
def test_the_owner_reads_and_changes_their_thing(owner):
    thing = make_thing(owner)
    assert client_for(owner).get(f"/things/{thing.pk}/").json() == {"id": thing.pk}
    assert client_for(owner).patch(f"/things/{thing.pk}/").status_code == 200


@pytest.mark.urls(URLS)
def test_another_users_thing_is_404_not_403(owner, other_user):
    thing = make_thing(owner)
    for method in ("get", "patch"):
        response = getattr(client_for(other_user), method)(f"/things/{thing.pk}/")
        error = assert_envelope(response, 404, "not_found")
        assert str(thing.pk) not in error["message"]


@pytest.mark.urls(URLS)
def test_a_shared_thing_is_readable_but_not_writable(owner, other_user):
    thing = make_thing(owner, shared=True)
    assert client_for(other_user).get(f"/things/{thing.pk}/").status_code == 200
    assert_envelope(client_for(other_user).patch(f"/things/{thing.pk}/"), 403)


@pytest.mark.urls(URLS)
def test_a_verified_operator_reaches_any_thing_and_an_unverified_one_does_not(owner, operator):
    thing = make_thing(owner)
    assert_envelope(client_for(operator).get(f"/things/{thing.pk}/"), 404)
    assert client_for(operator, verified=True).patch(f"/things/{thing.pk}/").status_code == 200


@pytest.mark.urls(URLS)
def test_anonymous_gets_401(owner):
    thing = make_thing(owner)
    assert_envelope(APIClient().get(f"/things/{thing.pk}/"), 401)


@pytest.mark.urls(URLS)
@pytest.mark.parametrize(
    "fixture,trader_status,operator_status",
    [("viewer", 403, 403), ("owner", 200, 403), ("operator", 200, 403)],
)
def test_role_classes(request, fixture, trader_status, operator_status):
    user = request.getfixturevalue(fixture)
    assert client_for(user).post("/trader-only/").status_code == trader_status
    assert client_for(user).get("/trader-only/").status_code == 200  # reading is for all
    response = client_for(user).get("/operator-only/")
    assert response.status_code == operator_status
    if fixture == "operator":
        assert response.json()["error"]["code"] == "otp_required"


@pytest.mark.urls(URLS)
def test_a_verified_operator_and_superuser_pass_is_operator(operator, superuser):
    assert client_for(operator, verified=True).get("/operator-only/").status_code == 200
    assert client_for(superuser, verified=True).get("/operator-only/").status_code == 200
    assert_envelope(APIClient().get("/operator-only/"), 401)
