"""Stored XSS: every user-supplied text, planted with markup, is escaped on every page.

Each text gets its own payload (tests/security/xss.py). Every page of the URL conf (and the
prefilled forms) is rendered for the victim: no payload element appears unescaped in any
HTML answer, and each text is seen escaped on at least one page, so the walk really renders
it (a text no page shows is listed in NOT_ON_PAGES, and checked to be absent). JSON answers
are data, not markup: they must say so (application/json), so a browser never renders them.
tests/security/test_xss_browser.py loads the same pages in Chromium.
"""

from __future__ import annotations

import pytest
from django.test import Client

from tests.security.matrix import ROUTES, route_path
from tests.security.world import World, fresh_user
from tests.security.xss import FIELDS, escaped_marker, plant, raw_markers

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_rate_limits")]

EXTRA_PAGES = [
    "/backtests/new/?strategy={strategy}",
    "/research/sweeps/new/?strategy={strategy}",
    "/research/sweeps/new/?backtest={backtest}",
    "/research/walk-forward/new/?optimization={optimization}",
    "/backtests/compare/?ids={backtest}&ids={other}",
    "/strategies/?q=xss",
    "/backtests/{queued}/",
]
NOT_ON_PAGES = {"webhook_url": "webhooks are managed through the API only"}


def _pages(world: World) -> list[str]:
    pages = [p for r in ROUTES.values() if not r.is_api and (p := route_path(r, world))]
    ids = {"strategy": world.strategy.pk, "backtest": world.finished.pk,
           "optimization": world.optimization.pk, "queued": world.queued.pk,
           "other": world.finished.pk}  # fmt: skip
    return pages + [p.format(**ids) for p in EXTRA_PAGES]


def test_every_user_text_is_escaped_on_every_page(world: World):
    # The failed backtest shows its error: plant the payloads into the queued one, failed.
    world.queued.status = "failed"
    world.queued.save(update_fields=["status"])
    plant(world.victim, world.strategy, world.queued, world.optimization)
    client = Client()
    client.force_login(fresh_user(world.victim))
    unescaped, seen, mislabelled = [], set(), []
    for path in _pages(world):
        response = client.get(path)
        kind = response.get("Content-Type", "")
        body = response.getvalue()
        if not kind.startswith("text/html"):
            if b"xss_" in body and not kind.startswith(("application/json", "text/csv")):
                mislabelled.append((path, kind))
            continue
        for field in FIELDS:
            unescaped += [(path, field) for marker in raw_markers(field) if marker in body]
            if escaped_marker(field) in body:
                seen.add(field)
    assert unescaped == []
    assert mislabelled == []
    assert set(FIELDS) - seen == set(NOT_ON_PAGES), "texts no page rendered"
