"""Monte Carlo and random entry on a finished backtest: reproducible from the seed, bounded,
and stored once however often the job is delivered."""

from __future__ import annotations

import pytest

from backtesting.jobs.fields import JobStatus
from backtesting.jobs.lifecycle import JobClaim, job_claim
from backtesting.jobs.recovery import job_recover_stale
from backtesting.robustness.execution import robustness_execute
from backtesting.robustness.models import RobustnessResult, RobustnessRun
from backtesting.robustness.services import robustness_cancel, robustness_submit
from tradeplatform.errors import ConflictError, DomainValidationError, PermissionDeniedError


def _execute(owner, backtest, kind, **parameters):
    run = robustness_submit(owner=owner, backtest=backtest, kind=kind, parameters=parameters)
    run = robustness_execute(run_id=run.pk)
    assert run is not None and run.status == JobStatus.SUCCEEDED, run.error_message
    return run


@pytest.mark.parametrize("method", ["shuffle", "bootstrap", "block_bootstrap"])
def test_monte_carlo_gives_an_identical_result_from_the_same_seed(owner, backtest, method):
    first = _execute(owner, backtest, "monte_carlo", method=method, n_runs=200, seed=7)
    second = _execute(owner, backtest, "monte_carlo", method=method, n_runs=200, seed=7)
    other = _execute(owner, backtest, "monte_carlo", method=method, n_runs=200, seed=8)

    assert first.result.data == second.result.data
    assert first.result.data["bands"] != other.result.data["bands"]


def test_monte_carlo_reports_distributions_and_bands_of_the_resampled_trades(owner, backtest):
    data = _execute(owner, backtest, "monte_carlo", method="bootstrap", n_runs=300, seed=1)
    data = data.result.data

    n_trades = backtest.trades.filter(is_open=False).count()
    assert data["n_runs"] == 300 and data["n_steps"] == n_trades
    for name in ("final_return", "max_drawdown", "sharpe"):
        dist = data["distributions"][name]
        p = dist["percentiles"]
        assert p["p5"] <= p["p25"] <= p["p50"] <= p["p75"] <= p["p95"]
        assert sum(dist["histogram"]["counts"]) + dist["undefined"] == 300
    assert 0.0 <= data["probability_of_loss"] <= 1.0
    bands = data["bands"]
    assert len(bands["values"]) == 5 and len(bands["times"]) == len(bands["index"])
    assert all(b < a for b, a in zip(bands["times"], bands["times"][1:], strict=False))
    # Every path starts from the initial cash; the bands too.
    assert {row[0] for row in bands["values"]} == {10_000.0}
    assert data["distributions"]["max_drawdown"]["percentiles"]["p95"] <= 0


def test_a_trade_shuffle_keeps_the_final_return_and_changes_only_the_path(owner, backtest):
    data = _execute(owner, backtest, "monte_carlo", method="shuffle", n_runs=100, seed=2)
    data = data.result.data

    final = data["distributions"]["final_return"]["percentiles"]
    assert (
        final["p5"] == pytest.approx(final["p95"]) == pytest.approx(data["actual"]["final_return"])
    )


def test_random_entry_is_reproducible_and_gives_a_p_value_with_its_histogram(owner, backtest):
    first = _execute(owner, backtest, "random_entry", n_strategies=300, seed=5).result.data
    second = _execute(owner, backtest, "random_entry", n_strategies=300, seed=5).result.data

    assert first == second
    assert first["n_trades"] == backtest.trades.filter(is_open=False).count()
    assert 1 / 301 <= first["p_value"] <= 1.0
    assert sum(first["histogram"]["counts"]) == 300
    edges = first["histogram"]["edges"]
    assert edges[0] <= first["actual_return"] <= edges[-1]


@pytest.mark.parametrize(
    ("kind", "parameters", "field"),
    [
        ("monte_carlo", {"n_runs": 5_001}, "n_runs"),
        ("monte_carlo", {"n_runs": 0}, "n_runs"),
        ("monte_carlo", {"method": "jackknife"}, "method"),
        (
            "monte_carlo",
            {"method": "block_bootstrap", "mean_block_length": 0.5},
            "mean_block_length",
        ),
        ("monte_carlo", {"seed": -1}, "seed"),
        ("monte_carlo", {"n_runs": True}, "n_runs"),
        ("random_entry", {"n_strategies": 10_000}, "n_strategies"),
        ("lookahead", {"n_checks": 21}, "n_checks"),
        ("lookahead", {"n_runs": 5}, "n_runs"),
    ],
)
def test_submit_rejects_parameters_out_of_bounds_naming_the_field(
    owner, backtest, kind, parameters, field
):
    with pytest.raises(DomainValidationError) as caught:
        robustness_submit(owner=owner, backtest=backtest, kind=kind, parameters=parameters)

    assert field in caught.value.details
    assert not RobustnessRun.objects.exists()


def test_submit_rejects_an_unknown_kind_a_viewer_and_an_unfinished_backtest(
    owner, viewer, backtest
):
    with pytest.raises(DomainValidationError):
        robustness_submit(owner=owner, backtest=backtest, kind="astrology", parameters={})
    with pytest.raises(PermissionDeniedError):
        robustness_submit(owner=viewer, backtest=backtest, kind="lookahead", parameters={})
    backtest.status = JobStatus.FAILED
    backtest.save(update_fields=["status"])
    with pytest.raises(ConflictError):
        robustness_submit(owner=owner, backtest=backtest, kind="lookahead", parameters={})
    assert not RobustnessRun.objects.exists()


def test_the_seed_is_drawn_and_stored_when_none_is_given(owner, backtest):
    run = robustness_submit(owner=owner, backtest=backtest, kind="random_entry", parameters={})

    assert isinstance(run.parameters["seed"], int)
    assert run.parameters["n_strategies"] == 1_000


def test_a_queued_run_cancelled_never_runs(owner, backtest):
    run = robustness_submit(owner=owner, backtest=backtest, kind="random_entry", parameters={})

    run = robustness_cancel(run=run)
    again = robustness_execute(run_id=run.pk)

    assert run.status == again.status == JobStatus.CANCELLED
    assert not RobustnessResult.objects.exists()
    with pytest.raises(ConflictError):
        robustness_cancel(run=run)


def test_a_running_run_asked_to_cancel_stops_at_its_next_batch(owner, backtest, monkeypatch):
    run = robustness_submit(
        owner=owner, backtest=backtest, kind="random_entry", parameters={"n_strategies": 2_000}
    )
    polls: list[int] = []

    def cancelled_after_first_batch(claim: JobClaim) -> bool:
        polls.append(1)
        RobustnessRun.objects.filter(pk=claim.job_id).update(cancel_requested=True)
        return True

    monkeypatch.setattr(JobClaim, "should_cancel", cancelled_after_first_batch)
    run = robustness_execute(run_id=run.pk)

    assert run.status == JobStatus.CANCELLED and run.error_code == "cancelled"
    assert len(polls) == 1  # stopped after the first of eight batches
    assert not RobustnessResult.objects.exists()


def test_a_run_recovered_after_its_worker_died_finishes_exactly_once(owner, backtest, settings):
    run = robustness_submit(
        owner=owner, backtest=backtest, kind="random_entry", parameters={"n_strategies": 50}
    )
    # The first worker claims it and dies: its lease runs out with the row `running`.
    settings.BACKTEST_LEASE_SECONDS = -1
    job_claim(RobustnessRun, job_id=run.pk, token="dead-worker")
    assert job_recover_stale(RobustnessRun).requeued_running == [run.pk]
    settings.BACKTEST_LEASE_SECONDS = 60

    recovered = robustness_execute(run_id=run.pk)  # the re-published message
    redelivered = robustness_execute(run_id=run.pk)  # the dead worker's message, redelivered

    assert recovered.status == redelivered.status == JobStatus.SUCCEEDED
    assert recovered.attempts == 2
    assert RobustnessResult.objects.filter(run_id=run.pk).count() == 1
