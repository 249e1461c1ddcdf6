"""Quotas per role, per-user overrides, and the errors the other apps will raise."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from accounts.quotas import (
    QuotaExceededError,
    QuotaKind,
    daily_window_start,
    ensure_within_quota,
    quota_for,
)
from tradeplatform.exception_handler import api_exception_handler

pytestmark = pytest.mark.django_db


def test_quotas_come_from_the_role(owner, viewer, operator, superuser):
    assert quota_for(owner, QuotaKind.STRATEGIES) == 50
    assert quota_for(viewer, "concurrent_backtests") == 0
    assert quota_for(operator, QuotaKind.DAILY_BACKTESTS) == 5000
    assert quota_for(superuser, QuotaKind.STRATEGIES) is None


def test_settings_and_per_user_overrides_win(settings, owner):
    settings.QUOTAS = {**settings.QUOTAS, "trader": {**settings.QUOTAS["trader"], "strategies": 3}}
    assert quota_for(owner, QuotaKind.STRATEGIES) == 3
    owner.quota_strategies = 7
    assert quota_for(owner, QuotaKind.STRATEGIES) == 7


def test_ensure_within_quota_passes_while_one_more_fits(owner):
    ensure_within_quota(owner, QuotaKind.STRATEGIES, 49)
    with pytest.raises(QuotaExceededError) as caught:
        ensure_within_quota(owner, QuotaKind.STRATEGIES, 50)
    response = api_exception_handler(caught.value, {})
    assert response.status_code == 403
    assert response.data["error"]["code"] == "quota_exceeded"
    assert response.data["error"]["details"] == {"quota": "strategies", "limit": 50, "current": 50}


def test_a_viewer_cannot_run_anything(viewer):
    with pytest.raises(QuotaExceededError) as caught:
        ensure_within_quota(viewer, QuotaKind.CONCURRENT_BACKTESTS, 0)
    assert caught.value.status_code == 429


@time_machine.travel(datetime(2026, 3, 1, 23, 0, tzinfo=UTC), tick=False)
def test_the_daily_quota_is_429_with_retry_after_until_utc_midnight(owner):
    assert daily_window_start() == datetime(2026, 3, 1, tzinfo=UTC)
    with pytest.raises(QuotaExceededError) as caught:
        ensure_within_quota(owner, QuotaKind.DAILY_BACKTESTS, 200)
    response = api_exception_handler(caught.value, {})
    assert response.status_code == 429
    assert response["Retry-After"] == "3600"
