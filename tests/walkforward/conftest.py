"""Fixtures for walk-forward tests: 120 daily bars, the SMA cross, a tiny grid and a submitter."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from backtesting.optimization.services import OptimizationInput
from backtesting.walkforward.models import WalkForward
from backtesting.walkforward.services import WalkForwardInput, walkforward_submit
from tests.backtesting.conftest import START, seed_bars
from tests.factories import StrategyFactory

N_BARS = 120
# fast in {3, 5} x slow in {10, 15}, all with fast < slow: 4 combinations per window.
TINY_GRID = {
    "kind": "grid",
    "parameters": {
        "fast": {"min": 3, "max": 5, "step": 2},
        "slow": {"min": 10, "max": 15, "step": 5},
    },
}


@pytest.fixture
def instrument(db):
    return seed_bars("AAA", n=N_BARS)


@pytest.fixture
def strategy_version(owner):
    return StrategyFactory(owner=owner).versions.get()


def walkforward_input(version: Any, **overrides: Any) -> WalkForwardInput:
    sweep_fields: dict[str, Any] = {
        "strategy_version": version,
        "symbols": ["AAA"],
        "timeframe": "1d",
        "start": START,
        "end": START + timedelta(days=N_BARS - 1),
        "parameters": {},
        "settings": {"initial_cash": 10_000.0},
        "space": TINY_GRID,
        "constraints": ["fast < slow"],
        "objective": "total_return",
    }
    window_fields: dict[str, Any] = {
        "mode": "rolling",
        "in_sample_bars": 40,
        "out_of_sample_bars": 20,
        "step_bars": 20,
    }
    for key in list(overrides):
        if key in window_fields:
            window_fields[key] = overrides.pop(key)
    sweep_fields.update(overrides)
    return WalkForwardInput(sweep=OptimizationInput(**sweep_fields), **window_fields)


@pytest.fixture
def submit_walkforward(instrument, strategy_version, owner) -> Callable[..., WalkForward]:
    """Submit as `owner` (nothing is published: tests call the execution themselves)."""

    def _submit(**overrides: Any) -> WalkForward:
        return walkforward_submit(
            owner=owner, data=walkforward_input(strategy_version, **overrides)
        )

    return _submit


def conformance_walkforwards(owner: Any, version: Any) -> tuple[WalkForward, WalkForward]:
    """(a finished one-window walk-forward, a queued one) over the 120 bars named AAA, for the
    schema conformance walk."""
    from backtesting.walkforward.execution import walkforward_execute

    one_window = {"in_sample_bars": 60, "out_of_sample_bars": 60, "step_bars": 60}
    first = walkforward_submit(owner=owner, data=walkforward_input(version, **one_window))
    finished = walkforward_execute(walkforward_id=first.pk)
    assert finished is not None and finished.status == "succeeded", finished
    queued = walkforward_submit(owner=owner, data=walkforward_input(version, **one_window))
    return finished, queued
