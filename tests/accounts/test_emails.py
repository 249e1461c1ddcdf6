"""Emails: plain-text bodies carry names exactly as typed (no HTML escaping in text)."""

from __future__ import annotations

import pytest
from django.core import mail
from rest_framework.test import APIClient

from tests.accounts.helpers import PASSWORD_RESET
from tests.factories import TraderFactory

pytestmark = pytest.mark.django_db

NAME = "O'Brien <x&y>"
ESCAPED = "O&#x27;Brien &lt;x&amp;y&gt;"


@pytest.fixture
def obrien():
    return TraderFactory(username="obrien", email="obrien@example.com", display_name=NAME)


def _assert_plain_text_has_the_name_as_typed(message: mail.EmailMessage) -> None:
    assert message.body.startswith(f"Hello {NAME},\n")
    assert "&#x27;" not in message.body and "&lt;" not in message.body
    # An HTML part, should one be added, is markup: there the name must stay escaped.
    for content, mimetype in getattr(message, "alternatives", []):
        if mimetype == "text/html":
            assert ESCAPED in str(content) and NAME not in str(content)


def test_the_api_password_reset_email_greets_the_user_by_the_exact_name(obrien):
    response = APIClient().post(PASSWORD_RESET, {"email": obrien.email}, format="json")
    assert response.status_code == 202
    _assert_plain_text_has_the_name_as_typed(mail.outbox[-1])


def test_the_browser_password_reset_email_greets_the_user_by_the_exact_name(client, obrien):
    client.post("/accounts/password/reset/", {"email": obrien.email})
    _assert_plain_text_has_the_name_as_typed(mail.outbox[-1])
