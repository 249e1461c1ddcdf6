"""The compare page and its chart data: the owner's finished backtests side by side, the best
value per row marked by the metric's direction, anyone else's backtest not found."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backtesting.comparison import best_columns
from backtesting.curves import curve_encode
from backtesting.metric_display import format_metric
from backtesting.models import Backtest, BacktestResult, BacktestStatus
from backtesting.sandbox.curve_wire import RunCurve
from strategies.models import Strategy
from tests.factories import StrategyFactory

URL = "/backtests/compare/"
DATA_URL = "/backtests/compare.json"


def finished(
    owner: Any,
    metrics: dict[str, Any] | None = None,
    *,
    equity: list[float] | None = None,
    status: str = BacktestStatus.SUCCEEDED,
    name: str = "Trend",
) -> Backtest:
    """A backtest of `owner` as a worker leaves it: the row, and a result when it succeeded."""
    strategy: Any = Strategy.objects.filter(owner=owner, name=name).first()
    if strategy is None:
        strategy = StrategyFactory(owner=owner, name=name)
    version = strategy.versions.get()
    backtest = Backtest.objects.create(
        owner=owner,
        strategy_version=version,
        symbols=["AAA"],
        timeframe="1d",
        start=datetime(2015, 1, 1, tzinfo=UTC),
        end=datetime(2015, 12, 31, tzinfo=UTC),
        queued_at=timezone.now(),
        status=status,
    )
    if status == BacktestStatus.SUCCEEDED:
        equity = equity or [1000.0, 1100.0, 1050.0]
        peak = [max(equity[: i + 1]) for i in range(len(equity))]
        days = np.arange(len(equity)) * 86_400 * 10**9
        stamps = np.datetime64("2015-01-01", "ns").astype(np.int64) + days
        drawdown = np.array([e / p - 1 for e, p in zip(equity, peak, strict=True)])
        cash = np.zeros(len(equity))
        curve = curve_encode(RunCurve(stamps, np.array(equity), cash, cash, drawdown))
        BacktestResult.objects.create(backtest=backtest, metrics=metrics or {}, **curve)
    return backtest


@pytest.fixture
def client(owner) -> Client:
    client = Client()
    client.force_login(owner)
    return client


def ids(*backtests: Backtest) -> str:
    return "&".join(f"ids={b.pk}" for b in backtests)


def row(html: str, key: str) -> str:
    start = html.index(f'data-metric="{key}"')
    return html[start : html.index("</tr>", start)]


def test_the_best_value_of_each_row_is_marked_by_the_metrics_direction(client, owner) -> None:
    a = finished(owner, {"total_return": 0.2, "max_drawdown": -0.1, "annualized_volatility": 0.3,
                         "n_trades": 10, "sharpe_ratio": 1.5})  # fmt: skip
    b = finished(owner, {"total_return": 0.1, "max_drawdown": -0.25, "annualized_volatility": 0.2,
                         "n_trades": 20, "sharpe_ratio": 1.5})  # fmt: skip
    html = client.get(f"{URL}?{ids(a, b)}").content.decode()
    best = '<td class="is-best"><strong>{}</strong> <span class="best-mark">best</span></td>'
    # Higher is better: the larger return; a drawdown of -10 % beats -25 %.
    assert best.format("+20.00 %") in row(html, "total_return")
    assert "<td>+10.00 %</td>" in row(html, "total_return")
    assert best.format("-10.00 %") in row(html, "max_drawdown")
    assert "<td>-25.00 %</td>" in row(html, "max_drawdown")
    # Lower is better: the calmer run.
    vol = row(html, "annualized_volatility")  # formatted by the catalogue, as everywhere
    assert best.format(format_metric("annualized_volatility", 0.2)) in vol
    assert f"<td>{format_metric('annualized_volatility', 0.3)}</td>" in vol
    # A tie marks both; a neutral metric (how many trades) marks none.
    assert row(html, "sharpe_ratio").count("best-mark") == 2
    assert "is-best" not in row(html, "n_trades") and "<td>20</td>" in row(html, "n_trades")
    assert 'data-metric="cagr"' not in html  # a metric neither run has is left out
    # Headers name each run: id, strategy and version, symbols, range.
    assert f'<a href="/backtests/{a.pk}/">#{a.pk}</a>' in html and "Trend v1" in html
    assert "AAA (1d)" in html and "2015-01-01 \u2013 2015-12-31" in html


def test_amounts_of_money_are_ranked_only_between_runs_of_the_same_starting_equity(
    client, owner
) -> None:
    a = finished(owner, {"equity_start": 250_000, "equity_final": 237_000, "total_return": -0.05})
    b = finished(owner, {"equity_start": 10_000, "equity_final": 8_900, "total_return": -0.11})
    c = finished(owner, {"equity_start": 10_000, "equity_final": 9_500, "total_return": -0.05})
    html = client.get(f"{URL}?{ids(a, b)}").content.decode()
    assert "best-mark" not in row(html, "equity_final")
    assert "best-mark" in row(html, "total_return")
    html = client.get(f"{URL}?{ids(b, c)}").content.decode()
    assert row(html, "equity_final").count("best-mark") == 1 and "$9,500.00</strong>" in html


def test_best_columns_skip_missing_values_and_need_two_to_compare() -> None:
    assert best_columns([0.1, None, float("nan"), 0.3], "higher") == {3}
    assert best_columns([0.1, None, 0.3], "lower") == {0}
    assert best_columns([0.1, None], "higher") == set()  # nothing to compare it with
    assert best_columns([1, 1, 1], "higher") == {0, 1, 2}
    assert best_columns([1, 2], None) == set()


def test_the_chart_data_rebases_each_equity_to_100_and_keeps_the_drawdown(client, owner) -> None:
    a = finished(owner, equity=[1000.0, 1100.0, 990.0])
    b = finished(owner, equity=[50_000.0, 45_000.0, 60_000.0], name="Rotation")
    data = client.get(f"{DATA_URL}?{ids(b, a)}").json()
    assert [s["id"] for s in data["series"]] == [b.pk, a.pk]  # in the order asked
    assert data["series"][0]["label"] == f"#{b.pk} Rotation v1"
    assert [p["value"] for p in data["series"][0]["equity"]] == pytest.approx([100.0, 90.0, 120.0])
    assert [p["value"] for p in data["series"][1]["equity"]] == pytest.approx([100.0, 110.0, 99.0])
    assert data["series"][1]["equity"][0]["time"] == 1420070400  # 2015-01-01 UTC, in seconds
    assert [p["value"] for p in data["series"][1]["drawdown"]] == pytest.approx([0, 0, -0.1])


def test_another_users_backtest_is_not_found(client, owner, other_user) -> None:
    mine = finished(owner)
    theirs = finished(other_user)
    assert client.get(f"{URL}?{ids(mine, theirs)}").status_code == 404
    assert client.get(f"{DATA_URL}?{ids(mine, theirs)}").status_code == 404


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("ids={a}", "Choose 2 to 4 backtests to compare (1 was given)."),
        ("ids={a}&ids={a}", "Choose 2 to 4 backtests to compare (1 was given)."),
        ("ids={a}&ids={b}&ids={c}&ids={d}&ids={e}", "(5 were given)"),
        ("ids={a}&ids=x", "Backtest ids are whole numbers"),
        ("ids=-1&ids={a}", "Backtest ids are whole numbers"),
        ("ids=99999999999999999999999&ids={a}", "No backtest"),
        (
            "ids={a}&ids={queued}",
            "Only succeeded backtests can be compared: not #{queued} (queued).",
        ),
    ],
)
def test_a_request_that_makes_no_comparison_shows_why_and_the_picker(
    client, owner, query, message
) -> None:
    made = {k: finished(owner).pk for k in "abcde"}
    made["queued"] = finished(owner, status=BacktestStatus.QUEUED).pk
    response = client.get(f"{URL}?{query.format(**made)}")
    if message == "No backtest":  # too large for any row: not found, like any other
        assert response.status_code == 404
        return
    assert response.status_code == 200
    html = response.content.decode()
    assert message.format(**made) in html and 'role="alert"' in html
    # The picker offers my succeeded backtests, newest first, with the asked ones ticked.
    offered = response.context["candidates"]
    assert [b.pk for b in offered] == sorted((made[k] for k in "abcde"), reverse=True)
    assert f'name="ids" value="{made["a"]}" checked>' in html
    assert "data-compare-url" not in html
    bad = client.get(f"{DATA_URL}?{query.format(**made)}")
    assert bad.status_code == 400 and message.format(**made) in bad.json()["error"]


def test_without_ids_the_page_is_the_picker_with_no_error(client, owner, other_user) -> None:
    mine = finished(owner, name="Mine")
    finished(other_user, name="Theirs")
    html = client.get(URL).content.decode()
    assert 'role="alert"' not in html
    assert f'name="ids" value="{mine.pk}">' in html and "Mine v1" in html and "Theirs" not in html


def test_a_user_without_finished_backtests_is_told_to_run_one(client) -> None:
    html = client.get(URL).content.decode()
    assert "You have no finished backtest yet" in html and 'href="/backtests/new/"' in html


def test_anonymous_visitors_are_sent_to_the_login_page(owner) -> None:
    a, b = finished(owner), finished(owner)
    for url in (URL, DATA_URL):
        response = Client().get(f"{url}?{ids(a, b)}")
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_page_reads_the_same_number_of_queries_for_two_or_four_backtests(
    client, owner, django_assert_num_queries
) -> None:
    runs = [finished(owner) for _ in range(4)]
    with CaptureQueriesContext(connection) as two:
        client.get(f"{URL}?{ids(*runs[:2])}")
    with django_assert_num_queries(len(two.captured_queries)):
        client.get(f"{URL}?{ids(*runs)}")
    with CaptureQueriesContext(connection) as data_two:
        client.get(f"{DATA_URL}?{ids(*runs[:2])}")
    with django_assert_num_queries(len(data_two.captured_queries)):
        client.get(f"{DATA_URL}?{ids(*runs)}")
