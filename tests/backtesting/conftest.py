"""Fixtures for backtest-job tests: an instrument with bars, a strategy version, a submit helper."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from django.db import transaction

from backtesting.engine import BarSeries
from backtesting.execution import backtest_execute
from backtesting.marketdata.services import series_version_bump
from backtesting.marketdata.writes import bars_upsert
from backtesting.models import Backtest
from backtesting.services import BacktestInput, backtest_submit
from tests.factories import InstrumentFactory, StrategyFactory

START = datetime(2015, 1, 1, tzinfo=UTC)
END = datetime(2016, 12, 31, tzinfo=UTC)


def seed_bars(symbol: str, n: int = 500, *, seed: int = 1, start: datetime = START) -> Any:
    """A random-walk daily series of `n` bars from `start`, written like an import would."""
    instrument: Any = InstrumentFactory(symbol=symbol, timezone="UTC")
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    ts = (
        np.datetime64(start.replace(tzinfo=None), "ns").astype(np.int64)
        + np.arange(n) * 86_400 * 10**9
    )
    arrays = BarSeries(symbol, ts.astype(np.int64), open_, np.maximum(open_, close) * 1.005,
                       np.minimum(open_, close) * 0.995, close, np.full(n, 1000.0))  # fmt: skip
    with transaction.atomic():
        counts = bars_upsert(instrument_id=instrument.pk, timeframe="1d", bars=arrays,
                             batch_size=1000, progress=None)  # fmt: skip
        series_version_bump(instrument, "1d", changed=counts.changed)
    return instrument


@pytest.fixture
def instrument(db):
    return seed_bars("AAA")


@pytest.fixture
def strategy_version(owner):
    return StrategyFactory(owner=owner).versions.get()


def make_input(version: Any, **overrides: Any) -> BacktestInput:
    fields: dict[str, Any] = {
        "strategy_version": version,
        "symbols": ["AAA"],
        "timeframe": "1d",
        "start": START,
        "end": END,
        "parameters": {"fast": 5, "slow": 20},
        "settings": {"initial_cash": 10_000.0},
    }
    fields.update(overrides)
    return BacktestInput(**fields)


@pytest.fixture
def submit(instrument, strategy_version, owner) -> Callable[..., Backtest]:
    """Submit a backtest as `owner` without publishing (tests run the service themselves)."""

    def _submit(**overrides: Any) -> Backtest:
        return backtest_submit(owner=owner, data=make_input(strategy_version, **overrides))

    return _submit


def execute_job(backtest_id: int) -> Backtest:
    """backtest_execute for a row that exists (the tests never delete it first)."""
    backtest = backtest_execute(backtest_id=backtest_id)
    assert backtest is not None
    return backtest
