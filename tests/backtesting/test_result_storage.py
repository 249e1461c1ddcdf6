"""Results live beside the job row (BacktestResult): lists never load them, details join them."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from backtesting.curves import curve_decode, curve_encode
from backtesting.engine.barcodec import VERSION as BAR_CODEC_VERSION
from backtesting.models import Backtest, BacktestResult, BacktestStatus
from backtesting.sandbox.curve_wire import RunCurve
from tests.backtesting.conftest import execute_job

API = "/api/v1/backtests/"
PAGE = "/backtests/"
ADMIN_LIST = "/admin/backtesting/backtest/"

# Column names only a result or a strategy's code has; a list query must name none of them.
HEAVY_COLUMNS = ("backtestresult", "equity", "drawdown", "sandbox_log", "metrics", '."code"')


def finished(submit: Any, n: int) -> list[Backtest]:
    done = [execute_job(submit().pk) for _ in range(n)]
    assert all(b.status == BacktestStatus.SUCCEEDED for b in done)
    return done


@pytest.fixture
def web(owner) -> Client:
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def admin_web(superuser, monkeypatch) -> Client:
    monkeypatch.setattr(admin.site, "has_permission", lambda request: True)
    client = Client()
    client.force_login(superuser)
    return client


def list_sql(client: Any, url: str) -> str:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return "\n".join(q["sql"] for q in queries.captured_queries)


def test_the_api_list_costs_two_queries_however_many_backtests(
    owner_client, submit, django_assert_num_queries
) -> None:
    finished(submit, 1)
    with django_assert_num_queries(2):  # the count and the page
        assert owner_client.get(API).json()["count"] == 1
    finished(submit, 3)
    with django_assert_num_queries(2):
        assert owner_client.get(API).json()["count"] == 4


def test_the_html_list_costs_the_same_queries_however_many_backtests(
    web, submit, django_assert_num_queries
) -> None:
    finished(submit, 1)
    # session, user, the count, the page, and the page's headline statistics read by key
    with django_assert_num_queries(5):
        web.get(PAGE)
    finished(submit, 3)
    with django_assert_num_queries(5):
        assert web.get(PAGE).content.decode().count("badge-succeeded") == 4


def test_the_admin_list_costs_the_same_queries_however_many_backtests(
    admin_web, submit, django_assert_num_queries
) -> None:
    finished(submit, 1)
    with CaptureQueriesContext(connection) as one:
        assert admin_web.get(ADMIN_LIST).status_code == 200
    finished(submit, 3)
    with django_assert_num_queries(len(one.captured_queries)):
        assert admin_web.get(ADMIN_LIST).status_code == 200


@pytest.mark.parametrize("which", ["api", "page", "admin"])
def test_lists_never_select_results_or_strategy_code(
    which, owner_client, web, admin_web, submit
) -> None:
    finished(submit, 2)
    client, url = {
        "api": (owner_client, API),
        "page": (web, PAGE),
        "admin": (admin_web, ADMIN_LIST),
    }[which]
    queries = list_sql(client, url).split("\n")
    assert any("backtesting_backtest" in q for q in queries)  # the list was read...
    for sql in queries:
        if which == "page" and _reads_only_metric_keys(sql):
            continue  # the page's three headline statistics, extracted in the database
        for column in HEAVY_COLUMNS:
            assert column not in sql, column  # ...without any result column or strategy code


def _reads_only_metric_keys(sql: str) -> bool:
    """A query on results that extracts named keys of `metrics` and no other result column."""
    if "backtesting_backtestresult" not in sql:
        return False
    whole_column = re.search(r'"metrics"(?!\s*(?:->|#>|,\s*\'?\$))', sql)
    other_heavy = any(f'."{c}"' in sql for c in ("equity", "drawdown", "sandbox_log", "code"))
    return whole_column is None and not other_heavy


def test_the_admin_page_of_one_backtest_shows_its_result(admin_web, submit) -> None:
    [done] = finished(submit, 1)
    page = admin_web.get(f"{ADMIN_LIST}{done.pk}/change/").content.decode().lower()
    assert "equity curve points" in page and "n_trades" in page and "sandbox_ms" in page


def test_the_detail_joins_its_result_so_a_result_costs_no_extra_query(
    owner_client, submit, django_assert_num_queries
) -> None:
    queued = submit()
    [done] = finished(submit, 1)
    with CaptureQueriesContext(connection) as without_result:
        assert owner_client.get(f"{API}{queued.pk}/").json()["metrics"] is None
    with django_assert_num_queries(len(without_result.captured_queries)):
        data = owner_client.get(f"{API}{done.pk}/").json()
    assert data["metrics"]["n_trades"] >= 1
    assert set(data["timings"]) == {"data_load_ms", "sandbox_ms", "write_ms"}
    with django_assert_num_queries(1):  # the backtest and its result, joined
        curve = owner_client.get(f"{API}{done.pk}/equity/").json()
    assert len(curve["timestamps"]) == len(curve["equity"]) == len(curve["drawdown"]) > 100


def test_a_finished_run_stores_its_curve_as_arrays_beside_the_row(submit) -> None:
    [done] = finished(submit, 1)
    result = BacktestResult.objects.get(backtest=done)
    curve = done.equity_curve
    assert curve is not None and len(curve["timestamps"]) > 100
    points = len(curve["timestamps"])  # 8 bytes a point in each array, nothing more
    sizes = {
        len(bytes(getattr(result, name) or b"")) for name in ("timestamps", "equity", "drawdown")
    }
    assert sizes == {points * 8}
    assert result.metrics is not None and result.metrics == done.metrics
    assert result.metrics["n_trades"] >= 1
    assert done.data_fingerprint_version == BAR_CODEC_VERSION


def _curve(stamps: list[str], equity: list[float], drawdown: list[float]) -> RunCurve:
    ns = np.array([s.removesuffix("Z") for s in stamps], dtype="datetime64[ns]").astype(np.int64)
    cash = np.zeros(len(ns))
    return RunCurve(ns, np.array(equity), cash, cash, np.array(drawdown))


def test_the_curve_codec_gives_back_exactly_the_engines_json() -> None:
    stamps = ["2015-01-01T00:00:00Z", "2015-01-02T09:30:00Z", "2262-04-11T00:00:00Z"]
    curve = _curve(stamps, [10_000.0, math.nan, 0.1 + 0.2], [0.0, -0.012345678901234567, math.nan])
    assert curve_decode(curve_encode(curve)) == {
        "timestamps": stamps,
        "equity": [10_000.0, None, 0.1 + 0.2],
        "drawdown": [0.0, -0.012345678901234567, None],
    }


def test_the_curve_codec_refuses_series_of_another_length() -> None:
    curve = _curve(["2015-01-01T00:00:00Z"], [1.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="drawdown has 2 points, timestamps 1"):
        curve_encode(curve)


def test_a_rerun_of_an_original_fingerprinted_by_the_old_codec_says_unknown_not_false(
    owner_client, submit
) -> None:
    [original] = finished(submit, 1)
    # A run from before codec version 2: its fingerprint hashed another framing of the bars.
    Backtest.objects.filter(pk=original.pk).update(
        data_fingerprint="0" * 64, data_fingerprint_version=1
    )
    rerun = owner_client.post(f"{API}{original.pk}/rerun/").json()
    execute_job(rerun["id"])
    detail = owner_client.get(f"{API}{rerun['id']}/").json()
    assert detail["status"] == "succeeded"
    assert detail["same_data_as_original"] is None


def test_the_detail_page_leaves_the_curves_in_the_database(web, submit) -> None:
    """The page shows metrics, trades and the log; its charts fetch their own series."""
    [done] = finished(submit, 1)
    sql = list_sql(web, f"{PAGE}{done.pk}/")
    assert '"backtesting_backtestresult"."metrics"' in sql  # the result was read...
    for column in ('."equity"', '."drawdown"', '."timestamps"'):
        assert column not in sql, column  # ...without its curve arrays
