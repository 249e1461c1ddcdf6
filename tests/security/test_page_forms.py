"""Every form of every page, submitted with a hostile value in one field at a time: never a
500, and the value never reaches the database as something PostgreSQL cannot store.

The forms are read from the rendered pages (tests/security/forms.py), as the victim sees
them, with the values a browser would send unchanged; then each field in turn gets each
hostile value. A page answers its form again (200), redirects, or refuses (4xx).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.security.forms import Form, page_forms
from tests.security.matrix import ROUTES, route_path
from tests.security.world import World, fresh_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_rate_limits")]

HOSTILE_VALUES = [
    "a\x00b",  # PostgreSQL refuses NUL in text and jsonb
    "9" * 400,  # past every integer column, and infinite as a float
]
# Forms that end the session or change the victim's sign-in are posted last, not at all here:
# they are covered by their own tests (CSRF, tokens) and would sign the client out.
SKIPPED_ACTIONS = ("/accounts/logout/", "/admin/logout/")
# Pages where a GET renders nothing more than the routes give (forms prefilled by a query).
EXTRA_PAGES = [
    "/backtests/new/?strategy={strategy}",
    "/research/sweeps/new/?strategy={strategy}",
    "/research/walk-forward/new/?strategy={strategy}",
]


def _forms(client: Client, world: World) -> dict[str, tuple[str, Form]]:
    """Every POST form of the pages the victim can open: path -> (action as written, form)."""
    pages = [p for r in ROUTES.values() if not r.is_api and (p := route_path(r, world))]
    pages += [p.format(strategy=world.strategy.pk) for p in EXTRA_PAGES]
    found: dict[str, tuple[str, Form]] = {}  # a form found on several pages is posted once
    for page in pages:
        response = client.get(page)
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        for form in page_forms(response.content.decode()):
            action = form.action or page
            if form.method == "post" and not action.startswith(SKIPPED_ACTIONS):
                found.setdefault(action.split("?")[0], (action, form))
    return found


def test_the_walk_finds_the_forms_that_write(world: World):
    """The control: the walk reaches the forms that matter, so an empty walk cannot pass."""
    client = Client()
    client.force_login(fresh_user(world.victim))
    actions = set(_forms(client, world))
    expected = {
        "/strategies/new/", f"/strategies/{world.strategy.pk}/edit/", "/backtests/new/",
        "/research/sweeps/new/", "/research/walk-forward/new/", "/accounts/",
        f"/research/robustness/backtests/{world.finished.pk}/start/",
    }  # fmt: skip
    assert expected <= actions, sorted(expected - actions)


def test_a_hostile_value_in_any_field_of_any_form_is_never_a_server_error(world: World):
    client = Client()
    client.force_login(fresh_user(world.victim))
    client.raise_request_exception = False
    failures: list[Any] = []
    for action, form in sorted(_forms(client, world).values(), key=lambda found: found[0]):
        for name in form.fields:
            for hostile in HOSTILE_VALUES:
                response = client.post(action, {**form.fields, name: hostile})
                if response.status_code >= 500:
                    failures.append((action, name, hostile[:12], response.status_code))
    assert failures == []
