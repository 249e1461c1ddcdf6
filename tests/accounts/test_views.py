"""Browser pages: sign-up, sign-in (username or email), logout by POST, passwords, 2FA."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from tests.factories import DEFAULT_PASSWORD, totp_device_for

pytestmark = pytest.mark.django_db


def test_pages_render_with_csrf_and_no_inline_script(client):
    for url in ("/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"):
        response = client.get(url)
        assert response.status_code == 200
        assert b"csrfmiddlewaretoken" in response.content
        assert b"<script>" not in response.content and b"style=" not in response.content


def test_sign_up_logs_the_new_user_in(client):
    response = client.post(
        "/accounts/signup/",
        {"username": "carol", "email": "carol@example.com", "password": "Vq7-plover-tangent"},
    )
    assert response.status_code == 302
    assert client.get("/").context["user"].username == "carol"


def test_sign_up_shows_a_weak_password_error(client):
    response = client.post(
        "/accounts/signup/", {"username": "carol", "email": "c@example.com", "password": "123"}
    )
    assert response.status_code == 200 and b"errorlist" in response.content


def test_sign_in_with_the_email_and_logout_by_post_only(client, owner):
    response = client.post(
        "/accounts/login/", {"username": "OWNER@example.com", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/").status_code == 302
    assert not client.get("/").context["user"].is_authenticated


def test_sign_in_refuses_a_bad_password_and_needs_the_code_when_2fa_is_on(client, owner):
    bad = client.post("/accounts/login/", {"username": "owner", "password": "nope-nope-nope"})
    assert bad.status_code == 200 and b"not correct" in bad.content
    totp_device_for(owner)
    response = client.post("/accounts/login/", {"username": "owner", "password": DEFAULT_PASSWORD})
    assert response.status_code == 200 and b"code" in response.content


def test_csrf_is_enforced_on_forms(owner):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "owner", "password": "x"})
    assert response.status_code == 403


def test_password_change_page_keeps_this_session(client, owner):
    client.force_login(owner)
    response = client.post(
        "/accounts/password/change/",
        {
            "old_password": DEFAULT_PASSWORD,
            "new_password1": "Fresh-pass-4321",
            "new_password2": "Fresh-pass-4321",
        },
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("Fresh-pass-4321") and owner.token_version == 1
    assert client.get("/accounts/2fa/").status_code == 200


def test_password_reset_pages(client, owner):
    client.post("/accounts/password/reset/", {"email": "owner@example.com"})
    link = re.search(r"http://testserver(/accounts/password/reset/\S+/)", mail.outbox[-1].body)
    assert link
    form = client.get(link.group(1), follow=True)
    assert form.status_code == 200
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "Reset-pass-9911", "new_password2": "Reset-pass-9911"},
    )
    assert done.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("Reset-pass-9911")


def test_two_factor_page_shows_a_qr_code_as_a_data_uri(client, owner):
    client.force_login(owner)
    response = client.post("/accounts/2fa/", {"action": "start"})
    assert b'src="data:image/svg+xml;base64,' in response.content


def test_two_factor_page_needs_sign_in(client):
    assert client.get("/accounts/2fa/").status_code == 302
