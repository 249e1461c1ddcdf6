from __future__ import annotations

import re

from django.test import Client

from tests.backtesting.conftest import execute_job


def test_list_and_detail_pages_show_status_progress_and_metrics(owner, submit, other_user) -> None:
    done = execute_job(submit().pk)
    client = Client()
    client.force_login(owner)
    page = client.get("/backtests/").content.decode()
    assert f"/backtests/{done.pk}/" in page and "Succeeded" in page and "<progress" in page
    detail = client.get(f"/backtests/{done.pk}/").content.decode()
    assert "sharpe_ratio" in detail and done.data_fingerprint in detail
    # Scripts are our static modules only: the CSP forbids inline ones.
    assert re.findall(r"<script[^>]*>", detail) == [
        '<script type="module" src="/static/js/backtest-charts.js">'
    ]
    assert "style=" not in detail
    client.force_login(other_user)
    assert client.get(f"/backtests/{done.pk}/").status_code == 404


def test_pages_require_login() -> None:
    assert Client().get("/backtests/").status_code == 302


def test_chart_data_is_the_owners_down_sampled_equity_and_drawdown(owner, submit) -> None:
    done = execute_job(submit().pk)
    curve = done.equity_curve
    assert curve is not None
    client = Client()
    client.force_login(owner)
    response = client.get(f"/backtests/{done.pk}/charts.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    data = response.json()
    assert {"equity", "drawdown"} <= set(data)  # the others: tests/backtesting/test_chart_views.py
    # Shorter than the display limit: every point, exactly, as epoch seconds.
    assert [p["value"] for p in data["equity"]] == [v for v in curve["equity"] if v is not None]
    assert len(data["drawdown"]) == len([v for v in curve["drawdown"] if v is not None])
    first = data["equity"][0]
    assert set(first) == {"time", "value"} and isinstance(first["time"], int)


def test_chart_data_of_another_users_backtest_is_not_found(owner, submit, other_user) -> None:
    done = execute_job(submit().pk)
    client = Client()
    client.force_login(other_user)
    assert client.get(f"/backtests/{done.pk}/charts.json").status_code == 404


def test_chart_data_needs_a_signed_in_user(submit) -> None:
    done = submit()
    response = Client().get(f"/backtests/{done.pk}/charts.json")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_chart_data_of_a_backtest_without_result_is_empty(owner, submit) -> None:
    queued = submit()
    client = Client()
    client.force_login(owner)
    response = client.get(f"/backtests/{queued.pk}/charts.json")
    data = response.json()
    assert response.status_code == 200 and data["equity"] == [] and data["drawdown"] == []
