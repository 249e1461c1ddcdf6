"""The look-ahead check catches a strategy that peeks at the future in init() and passes an
honest one, by re-running it in the sandbox on truncated data."""

from __future__ import annotations

from backtesting.jobs.fields import JobStatus
from backtesting.robustness.execution import robustness_execute
from backtesting.robustness.services import robustness_submit
from tests.robustness.conftest import finished_backtest

# init() sees every bar it is given: the maximum of the closes still to come is the future,
# and it differs between a full run and a run cut short.
PEEKING = """\
import numpy as np
from strategy import Param, Strategy


def future_max(close):
    return np.maximum.accumulate(np.asarray(close)[::-1])[::-1]


class Peek(Strategy):
    fast = Param(10, min=2, max=200)  # declared like the SMA cross's, unused
    slow = Param(20, min=5, max=400)

    def init(self):
        self.top = self.I(future_max, self.data.close)

    def next(self):
        near_top = self.data.close[-1] >= 0.97 * self.top[-1]
        if not self.position() and not near_top:
            self.buy()
        elif self.position() and near_top:
            self.close()
"""


def _run(owner, backtest, n_checks=6, seed=3):
    run = robustness_submit(
        owner=owner,
        backtest=backtest,
        kind="lookahead",
        parameters={"n_checks": n_checks, "seed": seed},
    )
    run = robustness_execute(run_id=run.pk)
    assert run is not None and run.status == JobStatus.SUCCEEDED, run.error_message
    return run.result.data


def test_an_honest_sma_crossover_changes_no_decision_when_the_future_is_removed(owner, backtest):
    data = _run(owner, backtest)

    assert data["n_checks"] == 6
    assert data["changed_count"] == 0 and data["changes"] == []
    assert [c["changed_bars"] for c in data["checks"]] == [0] * 6


def test_a_strategy_peeking_at_the_future_in_init_is_caught(owner, instrument):
    backtest = finished_backtest(owner, code=PEEKING)

    data = _run(owner, backtest)

    assert data["changed_count"] > 0
    change = data["changes"][0]
    assert change["full_run"] != change["truncated_run"]
    assert change["bar_time"] <= change["truncated_at"]
