"""A robustness test through the real broker: published on commit to the optimizations queue,
run by a worker consuming only that queue, progress and result stored once."""

from __future__ import annotations

import pytest

from backtesting.robustness.models import RobustnessResult, RobustnessRun
from tests.integration.test_backtest_worker import finished, post, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_monte_carlo_runs_on_a_worker_of_the_optimizations_queue(setup, start_worker):
    backtest_id = post(setup, spin=0)
    backtest = wait_for(lambda: finished(backtest_id), 60, "the backtest")
    assert backtest.status == "succeeded", backtest.error_message
    start_worker(queues="optimizations")

    response = setup["client"].post(
        f"/api/v1/backtests/{backtest.pk}/robustness/",
        {
            "kind": "monte_carlo",
            "parameters": {"method": "block_bootstrap", "n_runs": 300, "seed": 5},
        },
        format="json",
    )
    assert response.status_code == 202, response.json()
    run_id = response.json()["id"]

    def done() -> RobustnessRun | None:
        run = RobustnessRun.objects.get(pk=run_id)
        return run if run.is_finished else None

    run = wait_for(done, 60, "the robustness run")
    assert run.status == "succeeded", run.error_message
    assert run.queue == "optimizations" and run.attempts == 1 and run.progress == 1.0
    data = RobustnessResult.objects.get(run_id=run_id).data
    assert data["n_runs"] == 300 and len(data["bands"]["values"]) == 5
