"""Fixtures for sweep tests: the bars and strategy of the backtest tests, and a sweep submitter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from backtesting.optimization import services
from backtesting.optimization.execution import optimization_chunk_execute
from backtesting.optimization.models import Optimization
from backtesting.optimization.services import OptimizationInput, optimization_submit
from tests.backtesting.conftest import END, START, seed_bars
from tests.factories import StrategyFactory

# The grid: fast 5..50 step 5 x slow 20..200 step 20 with fast < slow = 90 combinations.
SMA_GRID = {
    "kind": "grid",
    "parameters": {
        "fast": {"min": 5, "max": 50, "step": 5},
        "slow": {"min": 20, "max": 200, "step": 20},
    },
}


@pytest.fixture
def instrument(db):
    return seed_bars("AAA")


@pytest.fixture
def chunks_of_25(monkeypatch):
    """Every combination counted as costly, so sweeps keep chunks of DEFAULT_CHUNK_SIZE (the
    issue's grid is 23 + 23 + 22 + 22): for tests of what happens across several chunks."""
    monkeypatch.setattr(services, "CHUNK_SECONDS", 0.0)


@pytest.fixture
def strategy_version(owner):
    return StrategyFactory(owner=owner).versions.get()


def sweep_input(version: Any, **overrides: Any) -> OptimizationInput:
    fields: dict[str, Any] = {
        "strategy_version": version,
        "symbols": ["AAA"],
        "timeframe": "1d",
        "start": START,
        "end": END,
        "parameters": {},
        "settings": {"initial_cash": 10_000.0},
        "space": SMA_GRID,
        "constraints": ["fast < slow"],
        "objective": "sharpe",
    }
    fields.update(overrides)
    return OptimizationInput(**fields)


@pytest.fixture
def sweep(instrument, strategy_version, owner) -> Callable[..., Optimization]:
    """Submit a sweep as `owner` (nothing is published: tests run the chunks themselves)."""

    def _sweep(**overrides: Any) -> Optimization:
        return optimization_submit(owner=owner, data=sweep_input(strategy_version, **overrides))

    return _sweep


def run_all_chunks(optimization: Optimization) -> Optimization:
    """Run every queued chunk, TPE's later batches included, as the workers would."""
    while True:
        queued = list(optimization.chunks.filter(status="queued").values_list("pk", flat=True))
        if not queued:
            break
        for chunk_id in queued:
            optimization_chunk_execute(chunk_id=chunk_id)
    optimization.refresh_from_db()
    return optimization


def sweep_optimizations(owner: Any, version: Any) -> tuple[Optimization, Optimization]:
    """(a finished two-combination sweep, a queued one) over bars named AAA, for the schema
    conformance walk."""
    small = {"kind": "grid", "parameters": {"fast": {"min": 5, "max": 10, "step": 5}}}
    finished = run_all_chunks(
        optimization_submit(owner=owner, data=sweep_input(version, space=small, constraints=[]))
    )
    queued = optimization_submit(
        owner=owner, data=sweep_input(version, space=small, constraints=[])
    )
    return finished, queued
