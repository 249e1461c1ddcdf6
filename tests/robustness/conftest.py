"""Fixtures for robustness tests: one finished SMA-cross backtest on 500 daily bars."""

from __future__ import annotations

from typing import Any

import pytest

from backtesting.jobs.fields import JobStatus
from backtesting.models import Backtest
from backtesting.services import backtest_submit
from tests.backtesting.conftest import execute_job, make_input, seed_bars
from tests.factories import StrategyFactory


def finished_backtest(owner: Any, code: str | None = None, **overrides: Any) -> Backtest:
    """A backtest of `code` (the SMA cross by default) run to the end in the sandbox."""
    strategy: Any = StrategyFactory(owner=owner, **({"code": code} if code else {}))
    version = strategy.versions.get()
    backtest = backtest_submit(owner=owner, data=make_input(version, **overrides))
    backtest = execute_job(backtest.pk)
    assert backtest.status == JobStatus.SUCCEEDED, backtest.error_message
    return backtest


@pytest.fixture
def instrument(db):
    return seed_bars("AAA")


@pytest.fixture
def backtest(owner, instrument) -> Backtest:
    return finished_backtest(owner)
