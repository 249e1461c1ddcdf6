"""The account page: profile (editable), password/2FA links, the API how-to, quotas used."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from backtesting.models import Backtest
from tests.factories import StrategyFactory, TraderFactory

pytestmark = pytest.mark.django_db

URL = "/accounts/"


def _backtest(owner: Any, version: Any, status: str, queued_at: Any) -> Backtest:
    return Backtest.objects.create(
        owner=owner,
        strategy_version=version,
        timeframe="1d",
        start=queued_at - timedelta(days=30),
        end=queued_at,
        queued_at=queued_at,
        status=status,
    )


def _quota_row(content: str, kind: str) -> str:
    start = content.index(f'data-quota="{kind}"')
    return content[start : content.index("</tr>", start)]


def test_anonymous_visitors_go_to_the_login_page(client) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_owner_sees_their_profile_links_and_quota_numbers(client) -> None:
    user: Any = TraderFactory(
        username="quinn",
        display_name="Quinn Q.",
        quota_strategies=5,
        quota_concurrent_backtests=3,
        quota_daily_backtests=9,
    )
    strategies: list[Any] = [StrategyFactory(owner=user) for _ in range(2)]
    StrategyFactory(owner=TraderFactory(username="someone"))  # not theirs: not counted
    version = strategies[0].versions.get()
    now = timezone.now()
    _backtest(user, version, "running", now)
    _backtest(user, version, "succeeded", now)
    _backtest(user, version, "succeeded", now - timedelta(days=2))  # not today
    client.force_login(user)

    response = client.get(URL)

    content = response.content.decode()
    assert response.status_code == 200
    for text in ("quinn", "Quinn Q.", "quinn@example.com", "Trader"):
        assert text in content
    assert 'href="/accounts/password/change/"' in content
    assert 'href="/accounts/2fa/"' in content
    strategies_row = _quota_row(content, "strategies")
    assert ">2</td>" in strategies_row and ">5</td>" in strategies_row
    concurrent_row = _quota_row(content, "concurrent_backtests")
    assert ">1</td>" in concurrent_row and ">3</td>" in concurrent_row
    daily_row = _quota_row(content, "daily_backtests")
    assert ">2</td>" in daily_row and ">9</td>" in daily_row


def test_the_curl_examples_carry_the_username_the_host_and_the_real_paths(client, settings) -> None:
    settings.ALLOWED_HOSTS = ["trade.example.test"]
    user: Any = TraderFactory(username="curly")
    client.force_login(user)

    content = client.get(URL, HTTP_HOST="trade.example.test").content.decode()

    assert "curl -s -X POST http://trade.example.test/api/v1/auth/token/" in content
    assert "&quot;username&quot;: &quot;curly&quot;" in content
    assert "curl -s -X POST http://trade.example.test/api/v1/auth/token/refresh/" in content
    assert "curl -s http://trade.example.test/api/v1/strategies/ -H" in content
    assert "Authorization: Bearer $ACCESS" in content


def test_a_display_name_with_markup_renders_as_text(client) -> None:
    user: Any = TraderFactory(username="mallory", display_name="<script>alert(1)</script>")
    client.force_login(user)

    content = client.get(URL).content.decode()

    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    # and the page itself has no inline script (CSP): only <script src=...> tags
    assert not re.findall(r"<script(?![^>]*\bsrc=)", content)


def test_editing_the_profile_saves_it_and_says_so(client) -> None:
    user: Any = TraderFactory(username="edith")
    client.force_login(user)

    response = client.post(
        URL, {"display_name": "Edith E.", "email": "edith.new@example.com"}, follow=True
    )

    assert response.status_code == 200
    assert "Your profile is saved." in response.content.decode()
    user.refresh_from_db()
    assert (user.display_name, user.email) == ("Edith E.", "edith.new@example.com")


def test_a_bad_email_is_shown_next_to_the_field_and_nothing_is_saved(client) -> None:
    user: Any = TraderFactory(username="edith")
    client.force_login(user)

    response = client.post(URL, {"display_name": "Changed", "email": "not-an-email"})

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == ["Enter a valid email address."]
    assert 'class="errorlist"' in response.content.decode()
    user.refresh_from_db()
    assert (user.display_name, user.email) == ("Edith", "edith@example.com")


def test_an_email_taken_by_another_user_is_a_field_error(client) -> None:
    TraderFactory(username="first")
    user: Any = TraderFactory(username="second")
    client.force_login(user)

    response = client.post(URL, {"display_name": "", "email": "FIRST@example.com"})

    assert response.status_code == 200
    assert response.context["form"].errors.get("email")
    user.refresh_from_db()
    assert user.email == "second@example.com"
