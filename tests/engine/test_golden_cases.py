"""Hand-worked cases from data/golden_cases.json, one per order type and accounting rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from backtesting.engine import BacktestSpec, run_backtest
from tests.engine.helpers import bars_from_rows, scripted

CASES = json.loads((Path(__file__).parent / "data" / "golden_cases.json").read_text())["cases"]


def _run(case: dict[str, Any]) -> Any:
    script = {int(bar): [tuple(a) for a in actions] for bar, actions in case["script"].items()}
    spec = BacktestSpec.from_dict(case.get("spec", {}))
    return run_backtest(spec, {"AAA": bars_from_rows(case["bars"])}, scripted(script))


def _check_fields(actual: dict[str, Any], expected: dict[str, Any], where: str) -> None:
    for key, want in expected.items():
        if key.endswith("_approx"):
            assert actual[key.removesuffix("_approx")] == pytest.approx(want, abs=1e-9), where
        elif key.endswith("_startswith"):
            assert actual[key.removesuffix("_startswith")].startswith(want), where
        else:
            assert actual[key] == want, f"{where}: {key}"


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_golden_case_matches_the_hand_worked_numbers(case: dict[str, Any]) -> None:
    result = _run(case)
    want = case["expect"]
    if "final_equity" in want:
        assert result.equity[-1] == want["final_equity"]
    if "final_equity_approx" in want:
        assert result.equity[-1] == pytest.approx(want["final_equity_approx"], abs=1e-9)
    if "final_cash" in want:
        assert result.cash[-1] == want["final_cash"]
    if "final_cash_approx" in want:
        assert result.cash[-1] == pytest.approx(want["final_cash_approx"], abs=1e-9)
    for k, expected in enumerate(want.get("trades", [])):
        _check_fields(result.trades[k], expected, f"trade {k}")
    for k, expected in enumerate(want.get("orders", [])):
        _check_fields(result.orders[k], expected, f"order {k}")
