from __future__ import annotations

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
    assert "<script" not in detail and "style=" not in detail
    client.force_login(other_user)
    assert client.get(f"/backtests/{done.pk}/").status_code == 404


def test_pages_require_login() -> None:
    assert Client().get("/backtests/").status_code == 302
