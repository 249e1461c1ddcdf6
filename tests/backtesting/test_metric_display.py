"""The metric catalogue: every engine statistic is shown once, formatted as people read it."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import pytest

from backtesting.engine.metrics import compute_statistics
from backtesting.metric_display import (
    HEADLINE_KEYS,
    METRIC_GROUPS,
    METRICS,
    SERIES_KEYS,
    format_metric,
    format_money,
    headline_cards_for,
    metric_groups_for,
    metric_tone,
)


def engine_statistics() -> dict[str, Any]:
    n = 30
    ts = np.datetime64("2024-01-01", "ns").astype(np.int64) + np.arange(n) * 86_400 * 10**9
    equity = 10_000 * (1 + 0.01 * np.sin(np.arange(n)))
    return compute_statistics(
        timestamps=ts,
        equity=equity,
        exposure=np.full(n, 0.5),
        trade_pnl=np.array([10.0, -5.0, 7.0]),
        trade_return=np.array([0.01, -0.005, 0.007]),
        trade_bars=np.array([3.0, 2.0, 4.0]),
        trade_duration_ns=np.array([3.0, 2.0, 4.0]) * 86_400 * 10**9,
        benchmark_close=np.linspace(100, 110, n),
    )


def test_the_catalogue_covers_every_statistic_the_engine_emits_exactly_once() -> None:
    stats = engine_statistics()
    keys = [s.key for g in METRIC_GROUPS for s in g.specs]
    assert [k for k, n in Counter(keys).items() if n > 1] == []
    assert set(keys) | SERIES_KEYS == set(stats)
    assert set(HEADLINE_KEYS) <= set(METRICS)
    assert all(s.convention.endswith(".") for s in METRICS.values())


def test_every_statistic_of_a_real_result_formats_to_text() -> None:
    stats = engine_statistics()
    rows = [row for group in metric_groups_for(stats) for row in group.rows]
    assert {row.spec.key for row in rows} == set(stats) - SERIES_KEYS
    assert all(isinstance(row.display, str) and row.display for row in rows)
    assert [g.title for g in metric_groups_for(stats)] == [g.title for g in METRIC_GROUPS]


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        ("total_return", 0.168466, "+16.85 %"),
        ("total_return", 16.8466, "+1,684.66 %"),
        ("total_return", -0.0321, "-3.21 %"),
        ("total_return", 0.0, "0.00 %"),
        ("max_drawdown", -0.2, "-20.00 %"),
        ("win_rate", 0.55, "55.00 %"),
        ("sharpe_ratio", 1.23456, "1.23"),
        ("sharpe_ratio", -0.5, "-0.50"),
        ("equity_final", 12345.678, "$12,345.68"),
        ("avg_loss", -42.1, "-$42.10"),
        ("n_trades", 41, "41"),
        ("n_bars", 1_000_000, "1,000,000"),
        ("max_drawdown_duration_days", 12.5, "12.5 days"),
        ("duration_days", 1.0, "1 day"),
        ("periods_per_year", 252.0, "252"),
        ("start", "2024-01-01T00:00:00+00:00", "2024-01-01"),
        ("sharpe_ratio", None, "—"),
        ("sharpe_ratio", math.nan, "—"),
        ("profit_factor", math.inf, "—"),
        ("sharpe_ratio", "abc", "—"),
        ("not_a_metric_yet", 2.5, "2.5"),
    ],
)
def test_format_metric_reads_like_a_person_writes_it(key: str, value: object, text: str) -> None:
    assert format_metric(key, value) == text


def test_money_takes_the_currency() -> None:
    assert format_money(1234.5, "EUR") == "€1,234.50"
    assert format_money(1234.5, "CHF") == "1,234.50 CHF"
    assert format_metric("expectancy", -3, currency="GBP") == "-£3.00"


def test_tone_colours_signed_changes_only() -> None:
    assert metric_tone("total_return", 0.1) == "up"
    assert metric_tone("total_return", -0.1) == "down"
    assert metric_tone("avg_loss", -3) == "down"
    assert metric_tone("sharpe_ratio", 2.0) == ""
    assert metric_tone("equity_final", 1e6) == ""
    assert metric_tone("total_return", None) == ""


def test_total_return_card_is_compared_with_buy_and_hold_when_stored() -> None:
    cards = headline_cards_for({"total_return": 0.2, "buy_and_hold_return": 0.1})
    assert [c.row.spec.key for c in cards] == list(HEADLINE_KEYS)
    first = cards[0]
    assert first.row.display == "+20.00 %"
    assert first.benchmark is not None and first.benchmark.display == "+10.00 %"
    assert headline_cards_for({"total_return": 0.2})[0].benchmark is None


def test_cagr_card_compares_with_buy_and_hold_over_the_same_calendar_time() -> None:
    two_years = {"cagr": 0.1, "buy_and_hold_return": 0.21, "duration_days": 730.5}
    cagr_card = headline_cards_for(two_years)[1]
    assert cagr_card.row.spec.key == "cagr" and cagr_card.benchmark is not None
    assert cagr_card.benchmark.display == "+10.00 %"  # 1.21 over two years is 10 % a year
    wiped = headline_cards_for({**two_years, "buy_and_hold_return": -1.0})[1]
    assert wiped.benchmark is not None and wiped.benchmark.display == "-100.00 %"
    assert headline_cards_for({"cagr": 0.1, "buy_and_hold_return": 0.2})[1].benchmark is None


def test_unknown_keys_still_show_in_an_other_group() -> None:
    groups = metric_groups_for({"total_return": 0.1, "brand_new": 3})
    assert groups[-1].title == "Other" and groups[-1].rows[0].display == "3"
