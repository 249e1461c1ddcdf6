"""The backtest list and detail pages, the status JSON and the Rerun, Cancel and Delete actions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from backtesting.metric_display import METRICS
from backtesting.models import Backtest, BacktestResult, BacktestStatus, Trade
from backtesting.services import backtest_submit
from tests.backtesting.conftest import execute_job, make_input
from tests.factories import StrategyFactory, StrategyVersionFactory


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def done(submit) -> Backtest:
    return execute_job(submit().pk)


def set_metrics(backtest: Backtest, **values: Any) -> None:
    result = BacktestResult.objects.get(pk=backtest.pk)
    result.metrics = {**(result.metrics or {}), **values}
    result.save(update_fields=["metrics"])


def make_trades(backtest: Backtest, n: int) -> None:
    """`n` trades replacing the engine's: seq i has net P&L i*10 - 500, alternating AAA/BBB,
    every third one short."""
    Backtest.objects.filter(pk=backtest.pk).update(symbols=["AAA", "BBB"])
    Trade.objects.filter(backtest=backtest).delete()
    t0 = datetime(2020, 1, 1, tzinfo=UTC)
    Trade.objects.bulk_create(
        Trade(backtest=backtest, seq=i, symbol="AAA" if i % 2 else "BBB",
              direction="short" if i % 3 == 0 else "long", size=10,
              entry_time=t0 + timedelta(days=i),
              entry_price=100.0, exit_time=t0 + timedelta(days=i + 1), exit_price=101.0,
              net_pnl=i * 10.0 - 500, net_pnl_pct=(i * 10.0 - 500) / 10, bars_held=i % 7)
        for i in range(1, n + 1)
    )  # fmt: skip


FAILING_LINE = re.compile(
    r'is-failing" aria-current="true"><span class="bt-code-no">(\d+)</span>([^<]*)<'
)


def trade_seqs(html: str) -> list[int]:
    return [int(s) for s in re.findall(r'<tr data-seq="(\d+)">', html)]


# --- access ---------------------------------------------------------------------------


def test_pages_and_status_require_login(done) -> None:
    for url in ("/backtests/", f"/backtests/{done.pk}/", f"/backtests/{done.pk}/status.json"):
        response = Client().get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_another_users_backtest_its_status_and_actions_are_not_found(done, other_user) -> None:
    client = client_for(other_user)
    assert client.get(f"/backtests/{done.pk}/").status_code == 404
    assert client.get(f"/backtests/{done.pk}/status.json").status_code == 404
    for action in ("rerun", "cancel", "delete"):
        assert client.post(f"/backtests/{done.pk}/{action}/").status_code == 404, action
    assert Backtest.objects.filter(owner=done.owner).count() == 1
    assert Backtest.objects.get(pk=done.pk).status == BacktestStatus.SUCCEEDED


def test_actions_need_post_and_a_csrf_token(done, owner) -> None:
    client = client_for(owner)
    assert client.get(f"/backtests/{done.pk}/delete/").status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner)
    assert strict.post(f"/backtests/{done.pk}/delete/").status_code == 403
    assert Backtest.objects.filter(pk=done.pk).exists()


# --- detail: metrics ------------------------------------------------------------------


def test_headline_cards_read_as_people_write_numbers_against_buy_and_hold(done, owner) -> None:
    set_metrics(done, total_return=16.8466, buy_and_hold_return=0.1, sharpe_ratio=1.23456,
                max_drawdown=-0.2034, win_rate=0.55, n_trades=41, profit_factor=None)  # fmt: skip
    page = client_for(owner).get(f"/backtests/{done.pk}/").content.decode()
    cards = page.split('class="metric-cards"')[1].split("</ul>")[0]
    assert 'data-metric="total_return">+1,684.66 %<' in cards
    assert 'Buy &amp; hold <span class="up">+10.00 %</span>' in cards
    assert 'data-metric="sharpe_ratio">1.23<' in cards
    assert 'data-metric="max_drawdown">-20.34 %<' in cards
    assert 'data-metric="win_rate">55.00 %<' in cards
    assert 'data-metric="n_trades">41<' in cards
    assert 'data-metric="profit_factor">—<' in cards
    # The convention is on hover (title) and in the page for screen readers and touch.
    assert 'title="Final equity over starting equity, minus 1."' in cards
    assert 'id="conv-total_return"' in page and 'aria-describedby="conv-total_return"' in page


def test_the_grouped_table_shows_every_metric_formatted(done, owner) -> None:
    page = client_for(owner).get(f"/backtests/{done.pk}/").content.decode()
    table = page.split('id="metrics-summary"')[1].split('id="trades"')[0]
    for group in ("Returns", "Risk", "Trades", "Exposure"):
        assert f"<caption>{group}</caption>" in table
    shown = set(re.findall(r'data-metric="([a-z_0-9]+)"', table))
    assert shown == set(METRICS)
    assert done.metrics is not None
    money = f"${done.metrics['equity_final']:,.2f}"
    assert f'data-metric="equity_final">{money}<' in table


def page_scripts(html: str) -> list[str]:
    """The src of every <script>; "inline" for one without (the CSP would block it)."""
    tags = re.findall(r"<script[^>]*>", html)
    return [m.group(1) if (m := re.search(r'src="([^"]+)"', t)) else "inline" for t in tags]


def test_page_scripts_are_our_static_modules_only(done, submit, owner) -> None:
    client = client_for(owner)
    finished = client.get(f"/backtests/{done.pk}/").content.decode()
    assert "/static/js/backtest-charts.js" in page_scripts(finished)
    assert "/static/js/backtest-live.js" not in page_scripts(finished)
    running = client.get(f"/backtests/{submit().pk}/").content.decode()
    assert "/static/js/backtest-live.js" in page_scripts(running)
    assert 'http-equiv="refresh"' not in running
    for html in (finished, running):
        assert all(src.startswith("/static/") for src in page_scripts(html))
        assert "style=" not in html


# --- detail: trades -------------------------------------------------------------------


def test_trades_are_paged_by_50_with_a_count(done, owner) -> None:
    make_trades(done, 120)
    client = client_for(owner)
    first = client.get(f"/backtests/{done.pk}/").content.decode()
    assert trade_seqs(first) == list(range(1, 51))
    assert "Showing 1\u201350 of 120 trades" in first
    second = client.get(f"/backtests/{done.pk}/?page=2").content.decode()
    assert trade_seqs(second) == list(range(51, 101))
    assert "Showing 51\u2013100 of 120 trades" in second and 'href="?page=3#trades"' in second


def test_trades_sort_by_a_column_either_way_keeping_the_filter(done, owner) -> None:
    make_trades(done, 120)
    client = client_for(owner)
    page = client.get(f"/backtests/{done.pk}/?sort=-net_pnl").content.decode()
    assert trade_seqs(page)[:3] == [120, 119, 118]
    assert '<td class="num up">$700.00</td>' in page  # 120*10-500, coloured as a gain
    ascending = client.get(f"/backtests/{done.pk}/?sort=net_pnl&side=short").content.decode()
    assert trade_seqs(ascending)[:3] == [3, 6, 9]
    assert "-$470.00" in ascending
    # The heading links keep the filter and flip the direction of the sorted column.
    assert 'href="?sort=-net_pnl&amp;side=short#trades"' in ascending


def test_trades_filter_by_symbol_and_side(done, owner) -> None:
    make_trades(done, 120)
    page = client_for(owner).get(f"/backtests/{done.pk}/?symbol=BBB&side=long").content.decode()
    seqs = trade_seqs(page)
    assert seqs and all(s % 2 == 0 and s % 3 != 0 for s in seqs)
    assert len(seqs) == 40 and "of 40 trades (filtered)" in page


@pytest.mark.parametrize(
    "query", ["sort=password", "sort=-", "sort=owner__password", "page=abc", "page=-3",
              "page=99999", "symbol=<script>", "side=sideways", "page=1.5&sort=--seq"],
)  # fmt: skip
def test_bad_sort_page_or_filter_values_fall_back_never_500(done, owner, query) -> None:
    make_trades(done, 60)
    response = client_for(owner).get(f"/backtests/{done.pk}/?{query}")
    assert response.status_code == 200
    seqs = trade_seqs(response.content.decode())
    assert seqs in (list(range(1, 51)), list(range(51, 61)))


def test_the_csv_download_link_serves_the_owners_trades(done, owner) -> None:
    client = client_for(owner)
    page = client.get(f"/backtests/{done.pk}/").content.decode()
    href = re.search(r'<a class="trades-csv" href="([^"]+)"', page)
    assert href is not None
    response = client.get(href.group(1).replace("&amp;", "&"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    body = response.getvalue().decode()
    assert body.count("\n") == done.trades.count() + 1


# --- detail: settings, provenance, errors, log ----------------------------------------


def test_settings_and_provenance_are_shown(done, owner) -> None:
    page = client_for(owner).get(f"/backtests/{done.pk}/").content.decode()
    assert "<dt>Initial cash</dt><dd>$10,000.00</dd>" in page
    assert "<dt>Benchmark</dt><dd>AAA (buy and hold)</dd>" in page
    assert "<code>fast=5</code>" in page and "<code>slow=20</code>" in page
    version = done.strategy_version
    assert f'href="/strategies/{version.strategy_id}/versions/{version.number}/"' in page
    assert done.code_sha256 in page and done.data_fingerprint in page
    assert done.engine_version in page


def test_a_runtime_error_shows_the_failing_line_of_the_strategy(submit, owner) -> None:
    backtest = submit()
    code = backtest.strategy_version.code.splitlines()
    Backtest.objects.filter(pk=backtest.pk).update(
        status=BacktestStatus.FAILED, error_code="runtime_error",
        error_message="ZeroDivisionError: division by zero <b>",
        error_details={"traceback": ["line 4, in on_bar", "line 6, in helper"]},
    )  # fmt: skip
    page = client_for(owner).get(f"/backtests/{backtest.pk}/").content.decode()
    assert "runtime_error" in page and "division by zero &lt;b&gt;" in page
    failing = FAILING_LINE.search(page)
    assert failing is not None and failing.group(1) == "6"
    assert failing.group(2) == code[5].replace("'", "&#x27;").replace('"', "&quot;")
    assert '<span class="bt-code-no">3</span>' in page  # three lines of context above


BROKEN_CODE = """from strategy import Strategy


class Broken(Strategy):
    def init(self):
        pass

    def next(self):
        x = 1 / 0
"""


def test_a_real_runtime_failure_highlights_the_users_line(owner, instrument) -> None:
    strategy = StrategyFactory(owner=owner, code="")
    broken = StrategyVersionFactory(strategy=strategy, code=BROKEN_CODE, parameters=[],
                                    class_name="Broken")  # fmt: skip
    backtest = execute_job(backtest_submit(owner=owner, data=make_input(broken, parameters={})).pk)
    assert backtest.status == BacktestStatus.FAILED
    page = client_for(owner).get(f"/backtests/{backtest.pk}/").content.decode()
    failing = FAILING_LINE.search(page)
    assert failing is not None and failing.groups() == ("9", "        x = 1 / 0")
    assert "ZeroDivisionError" in page


def test_the_log_output_is_shown_escaped(done, owner) -> None:
    BacktestResult.objects.filter(pk=done.pk).update(sandbox_log="bar 1\n<script>alert(1)</script>")
    page = client_for(owner).get(f"/backtests/{done.pk}/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page


# --- status JSON ----------------------------------------------------------------------


def test_status_json_reports_progress_and_when_it_finished(submit, owner) -> None:
    backtest = submit()
    Backtest.objects.filter(pk=backtest.pk).update(status=BacktestStatus.RUNNING, progress=0.3)
    client = client_for(owner)
    response = client.get(f"/backtests/{backtest.pk}/status.json")
    assert response["Cache-Control"] == "no-store"
    data = response.json()
    assert data["status"] == "running" and data["progress"] == 0.3 and data["finished"] is False
    Backtest.objects.filter(pk=backtest.pk).update(
        status=BacktestStatus.FAILED, error_code="time_limit", error_message="Too slow."
    )
    data = client.get(f"/backtests/{backtest.pk}/status.json").json()
    assert data["finished"] is True and data["status_label"] == "Failed"
    assert (data["error_code"], data["error_message"]) == ("time_limit", "Too slow.")


# --- actions --------------------------------------------------------------------------


def test_a_running_backtest_offers_cancel_and_a_finished_one_rerun(done, submit, owner) -> None:
    client = client_for(owner)
    finished = client.get(f"/backtests/{done.pk}/").content.decode()
    assert f'action="/backtests/{done.pk}/rerun/"' in finished and "/cancel/" not in finished
    queued = submit()
    waiting = client.get(f"/backtests/{queued.pk}/").content.decode()
    assert f'action="/backtests/{queued.pk}/cancel/"' in waiting and "/rerun/" not in waiting
    assert f'action="/backtests/{queued.pk}/delete/"' in waiting


def test_cancel_a_queued_backtest(submit, owner) -> None:
    backtest = submit()
    response = client_for(owner).post(f"/backtests/{backtest.pk}/cancel/", follow=True)
    assert Backtest.objects.get(pk=backtest.pk).status == BacktestStatus.CANCELLED
    assert f"Backtest {backtest.pk} is cancelled." in response.content.decode()


def test_cancel_a_finished_backtest_changes_nothing_and_says_so(done, owner) -> None:
    response = client_for(owner).post(f"/backtests/{done.pk}/cancel/", follow=True)
    assert Backtest.objects.get(pk=done.pk).status == BacktestStatus.SUCCEEDED
    assert "already finished" in response.content.decode()


def test_rerun_queues_a_copy_and_opens_it(done, owner) -> None:
    response = client_for(owner).post(f"/backtests/{done.pk}/rerun/")
    rerun = Backtest.objects.exclude(pk=done.pk).get()
    assert response.status_code == 302 and response["Location"] == f"/backtests/{rerun.pk}/"
    assert rerun.rerun_of_id == done.pk and rerun.status == BacktestStatus.QUEUED
    assert (rerun.parameters, rerun.symbols) == (done.parameters, done.symbols)


def test_a_read_only_user_cannot_rerun_even_their_own_backtest(done, owner) -> None:
    owner.role = "viewer"
    owner.save(update_fields=["role"])
    client = client_for(owner)
    assert "Rerun</button>" not in client.get(f"/backtests/{done.pk}/").content.decode()
    assert client.post(f"/backtests/{done.pk}/rerun/").status_code == 403
    assert Backtest.objects.count() == 1


def test_delete_removes_the_backtest_and_returns_to_the_list(done, owner) -> None:
    response = client_for(owner).post(f"/backtests/{done.pk}/delete/", follow=True)
    assert not Backtest.objects.filter(pk=done.pk).exists()
    assert not Trade.objects.filter(backtest_id=done.pk).exists()
    assert response.redirect_chain[-1][0] == "/backtests/"
    assert f"Backtest {done.pk} and its results are deleted." in response.content.decode()


# --- list -----------------------------------------------------------------------------


def test_the_list_shows_formatted_metrics_status_and_compare_boxes(done, submit, owner) -> None:
    set_metrics(done, total_return=0.168466, sharpe_ratio=1.5, max_drawdown=-0.1)
    queued = submit()
    page = client_for(owner).get("/backtests/").content.decode()
    row = page.split(f'<tr data-backtest="{done.pk}">')[1].split("</tr>")[0]
    assert ">+16.85 %<" in row and ">1.50<" in row and ">-10.00 %<" in row
    assert f'name="ids" value="{done.pk}"' in row and "Succeeded" in row
    queued_row = page.split(f'<tr data-backtest="{queued.pk}">')[1].split("</tr>")[0]
    assert 'name="ids"' not in queued_row and "Queued" in queued_row and "<progress" in queued_row
    assert 'action="/backtests/compare/"' in page and "Compare selected" in page


def test_the_list_filters_by_status(done, submit, owner) -> None:
    queued = submit()
    client = client_for(owner)
    page = client.get("/backtests/?status=queued").content.decode()
    assert f'data-backtest="{queued.pk}"' in page and f'data-backtest="{done.pk}"' not in page
    assert client.get("/backtests/?status=bogus").status_code == 200
    assert "No failed backtests" in client.get("/backtests/?status=failed").content.decode()


def test_the_list_reads_metrics_in_one_query_per_page(
    done, submit, owner, django_assert_max_num_queries
) -> None:
    for _ in range(3):
        execute_job(submit().pk)
    client = client_for(owner)
    client.get("/backtests/")  # warm the session and the user
    with django_assert_max_num_queries(6):
        assert client.get("/backtests/").status_code == 200


def test_an_empty_list_says_what_to_do_next(owner) -> None:
    page = client_for(owner).get("/backtests/").content.decode()
    assert "No backtests yet" in page and 'href="/backtests/new/"' in page


# --- charts JSON (backtesting/views/charts.py; its content is tested with chart_series) ---


def test_chart_data_of_another_users_backtest_is_not_found(owner, submit, other_user) -> None:
    done = execute_job(submit().pk)
    client = Client()
    client.force_login(other_user)
    assert client.get(f"/backtests/{done.pk}/charts.json").status_code == 404
