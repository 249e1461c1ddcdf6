"""Account workflows: roles keep groups and staff in step; invitations; role groups."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.management import call_command

from accounts import services
from accounts.models import Role, User

pytestmark = pytest.mark.django_db


def test_the_role_groups_exist_with_sensible_permissions():
    traders = Group.objects.get(name="Traders")
    operators = Group.objects.get(name="Operators")
    viewers = Group.objects.get(name="Viewers")
    assert operators.permissions.filter(codename="change_user").exists()
    assert not traders.permissions.filter(content_type__app_label="accounts").exists()
    assert not viewers.permissions.exclude(codename__startswith="view_").exists()


def test_changing_the_role_keeps_groups_and_staff_in_step(owner):
    services.user_change_role(user=owner, role=Role.OPERATOR)
    owner.refresh_from_db()
    assert owner.is_staff and list(owner.groups.values_list("name", flat=True)) == ["Operators"]
    services.user_change_role(user=owner, role="viewer")
    owner.refresh_from_db()
    assert not owner.is_staff and list(owner.groups.values_list("name", flat=True)) == ["Viewers"]


def test_deactivation_switches_the_user_off_and_bumps_the_token_version(owner):
    services.user_deactivate(user=owner)
    owner.refresh_from_db()
    assert not owner.is_active and owner.token_version == 1


def test_invite_creates_a_user_without_password_and_emails_a_link(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("user_invite", "newbie", "newbie@example.com", "--role", "viewer")
    user = User.objects.get(username="newbie")
    assert user.role == "viewer" and not user.has_usable_password()
    assert "/accounts/password/reset/" in mail.outbox[-1].body
