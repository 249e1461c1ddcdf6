"""What the detail page says about a run: the failing line, the code around it, the settings."""

from __future__ import annotations

from datetime import UTC, datetime

from backtesting.detail_display import code_excerpt, failing_line, run_settings_facts
from backtesting.models import Backtest


def test_the_failing_line_is_the_innermost_frame_of_the_users_code() -> None:
    details = {"traceback": ["line 12, in next", "line 30, in helper"]}
    assert failing_line(details) == 30


def test_a_syntax_error_points_at_its_first_problem() -> None:
    details = {"traceback": [], "problems": [{"line": 0}, {"line": 7, "column": 3}]}
    assert failing_line(details) == 7


def test_no_line_without_a_traceback_or_problem() -> None:
    assert failing_line({}) is None
    assert failing_line(None) is None
    assert failing_line({"traceback": ["somewhere else"], "problems": ["bad"]}) is None


def test_the_excerpt_keeps_three_lines_around_and_stops_at_the_edges() -> None:
    code = "\n".join(f"l{n}" for n in range(1, 11))
    excerpt = code_excerpt(code, 2)
    assert [(c.number, c.text, c.failing) for c in excerpt][:3] == [
        (1, "l1", False), (2, "l2", True), (3, "l3", False),
    ]  # fmt: skip
    assert [c.number for c in excerpt] == [1, 2, 3, 4, 5]
    assert [c.number for c in code_excerpt(code, 10)] == [7, 8, 9, 10]
    assert code_excerpt(code, 11) == [] and code_excerpt(code, 0) == []


def test_settings_read_as_costs_with_units_and_the_default_benchmark() -> None:
    backtest = Backtest(
        symbols=["AAA", "BBB"], timeframe="1d",
        start=datetime(2020, 1, 1, tzinfo=UTC), end=datetime(2021, 1, 1, tzinfo=UTC),
        settings={"initial_cash": 25_000.0, "allow_short": True, "fractional_units": True,
                  "costs": {"commission_pct": 0.001, "commission_min": 1.0, "slippage_bps": 5.0}},
    )  # fmt: skip
    facts = dict(run_settings_facts(backtest))
    assert facts["Initial cash"] == "$25,000.00"
    assert facts["Commission"] == "0.100 % of notional (at least $1.00)"
    assert facts["Slippage"] == "5 bps per fill"
    assert facts["Benchmark"] == "AAA (buy and hold)"
    assert facts["Short selling"] == "allowed" and facts["Sizing"] == "fractional units"
    assert facts["Range"] == "2020-01-01 to 2021-01-01"
    free = Backtest(symbols=["AAA"], timeframe="1d", start=backtest.start, end=backtest.end,
                    settings={"benchmark": "SPY"})  # fmt: skip
    assert dict(run_settings_facts(free))["Commission"] == "none"
    assert dict(run_settings_facts(free))["Benchmark"] == "SPY"
