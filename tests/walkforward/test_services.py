"""Walk-forward end to end through the job: windows, choices, stitching, cancel, recovery."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from backtesting import sandbox
from backtesting.bars import bars_for_backtest
from backtesting.engine.research.ranking import rank_rows
from backtesting.jobs.fields import JobStatus
from backtesting.optimization.finish import sandbox_limits
from backtesting.walkforward import execution
from backtesting.walkforward.execution import bars_slice, walkforward_execute
from backtesting.walkforward.models import WalkForward, WalkForwardWindow
from tests.backtesting.conftest import START
from tests.walkforward.conftest import N_BARS

pytestmark = pytest.mark.django_db


def _run(walkforward: WalkForward) -> WalkForward:
    done = walkforward_execute(walkforward_id=walkforward.pk)
    assert done is not None
    return done


def test_rolling_windows_match_the_hand_worked_example(submit_walkforward):
    # 120 daily bars, in-sample 40, out-of-sample 20, step 20, rolling:
    # [0,40)|[40,60), [20,60)|[60,80), [40,80)|[80,100), [60,100)|[100,120).
    done = _run(submit_walkforward())
    assert done.status == JobStatus.SUCCEEDED, done.error_message
    rows = list(done.windows.order_by("index"))
    bars = [(w.is_start_bar, w.is_end_bar, w.oos_end_bar) for w in rows]
    assert bars == [(0, 40, 60), (20, 60, 80), (40, 80, 100), (60, 100, 120)]
    day = timedelta(days=1)
    assert [w.is_start for w in rows] == [START + k * day for k in (0, 20, 40, 60)]
    assert [w.oos_start for w in rows] == [START + k * day for k in (40, 60, 80, 100)]
    assert [w.oos_end for w in rows] == [START + k * day for k in (59, 79, 99, 119)]
    assert done.n_windows == 4 and done.progress == 1.0
    # Each out-of-sample curve covers exactly its 20 bars (daily bars: one point per bar).
    assert all(len(w.oos_equity["t"]) == 20 for w in rows)


def test_anchored_windows_all_start_at_the_first_bar(submit_walkforward):
    done = _run(
        submit_walkforward(mode="anchored", in_sample_bars=60, out_of_sample_bars=30, step_bars=30)
    )
    rows = list(done.windows.order_by("index"))
    assert [(w.is_start_bar, w.is_end_bar, w.oos_end_bar) for w in rows] == [
        (0, 60, 90),
        (0, 90, 120),
    ]


def test_each_window_chooses_what_a_brute_force_ranking_of_single_runs_chooses(
    submit_walkforward,
):
    walkforward = submit_walkforward()
    done = _run(walkforward)
    bars = bars_for_backtest(
        symbols=["AAA"], timeframe="1d", start=walkforward.start, end=walkforward.end
    ).bars
    clock = bars["AAA"].timestamps
    chosen: list[dict] = []
    grid = [
        {"fast": 3, "slow": 10},
        {"fast": 3, "slow": 15},
        {"fast": 5, "slow": 10},
        {"fast": 5, "slow": 15},
    ]
    for window in done.windows.order_by("index"):
        in_sample = bars_slice(bars, clock, window.is_start_bar, window.is_end_bar)
        stats = [
            sandbox.run_strategy_in_sandbox(
                walkforward.strategy_version.code,
                {**walkforward.settings, "params": params},
                in_sample,
                limits=sandbox_limits(),
                timeframe="1d",
            )["statistics"]
            for params in grid
        ]
        best = rank_rows(stats, "total_return")[0]
        assert window.parameters == grid[best], window.index
        assert window.is_objective == pytest.approx(stats[best]["total_return"])
        chosen.append(window.parameters)
    assert len({tuple(sorted(p.items())) for p in chosen}) > 1  # the choice moves with the data


def test_the_stitched_curve_is_continuous_and_its_metrics_are_the_curves(submit_walkforward):
    done = _run(submit_walkforward())
    rows = list(done.windows.order_by("index"))
    result = done.result
    equity = np.array(result.curve["equity"])
    assert len(equity) == 80 and equity[0] == pytest.approx(10_000.0)
    assert result.curve["t"] == [t for w in rows for t in w.oos_equity["t"]]
    # Each segment starts where the previous one ended, and moves by its own returns.
    offset = 0
    for window in rows:
        values = np.array(window.oos_equity["v"])
        segment = equity[offset : offset + len(values)]
        if offset:
            assert segment[0] == pytest.approx(equity[offset - 1], rel=1e-6)
        assert segment / segment[0] == pytest.approx(values / values[0], rel=1e-6)
        offset += len(values)
    summary = result.summary
    assert summary["total_return"] == pytest.approx(equity[-1] / 10_000.0 - 1.0, rel=1e-6)
    peak = np.maximum.accumulate(equity)
    assert summary["max_drawdown"] == pytest.approx(float(np.min(equity / peak - 1.0)), rel=1e-4)
    closes = (
        bars_for_backtest(symbols=["AAA"], timeframe="1d", start=done.start, end=done.end)
        .bars["AAA"]
        .close
    )
    hold = np.prod([closes[w.oos_end_bar - 1] / closes[w.is_end_bar] for w in rows]) - 1.0
    assert summary["buy_and_hold_return"] == pytest.approx(hold, rel=1e-6)
    assert result.curve["buy_and_hold"][-1] == pytest.approx(10_000.0 * (1 + hold), rel=1e-4)


def test_efficiency_is_annual_out_of_sample_over_mean_annual_in_sample(submit_walkforward):
    done = _run(submit_walkforward())
    summary = done.result.summary
    in_sample = np.mean([w.is_metrics["annualized_return"] for w in done.windows.all()])
    assert summary["in_sample_annual_return"] == pytest.approx(in_sample)
    if in_sample > 0:
        assert summary["efficiency"] == pytest.approx(summary["annual_return"] / in_sample)
    else:
        assert summary["efficiency"] is None


def test_cancel_between_windows_stops_the_job_and_keeps_finished_windows(
    submit_walkforward, settings, monkeypatch
):
    settings.BACKTEST_CANCEL_POLL_SECONDS = 0
    walkforward = submit_walkforward()
    real = execution.window_run

    def run_then_cancel(wf, *args, **kwargs):
        row = real(wf, *args, **kwargs)
        WalkForward.objects.filter(pk=wf.pk).update(cancel_requested=True)
        return row

    monkeypatch.setattr(execution, "window_run", run_then_cancel)
    done = _run(walkforward)
    assert done.status == JobStatus.CANCELLED
    assert list(done.windows.values_list("index", flat=True)) == [0]
    assert done.result_or_none is None


def test_a_recovered_run_redoes_only_the_windows_not_yet_stored(submit_walkforward, monkeypatch):
    walkforward = submit_walkforward()
    real = execution.window_run
    calls: list[int] = []

    def dies_after_two(wf, bars, clock, window, *args, **kwargs):
        if window.index == 2:
            raise ConnectionError("worker lost")  # an infrastructure failure: released
        calls.append(window.index)
        return real(wf, bars, clock, window, *args, **kwargs)

    monkeypatch.setattr(execution, "window_run", dies_after_two)
    with pytest.raises(ConnectionError):
        walkforward_execute(walkforward_id=walkforward.pk)
    walkforward.refresh_from_db()
    assert walkforward.status == JobStatus.QUEUED  # released for the task's retry
    first = {w.index: w.pk for w in walkforward.windows.all()}
    assert sorted(first) == [0, 1]
    # Now as if that worker had died instead: running under an expired lease, which the
    # lifecycle lets the next delivery (or the recovery sweep's) claim.
    WalkForward.objects.filter(pk=walkforward.pk).update(
        status=JobStatus.RUNNING,
        claim_token="dead-worker",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )

    def counts(wf, bars, clock, window, *args, **kwargs):
        calls.append(window.index)
        return real(wf, bars, clock, window, *args, **kwargs)

    monkeypatch.setattr(execution, "window_run", counts)
    done = _run(walkforward)
    assert done.status == JobStatus.SUCCEEDED
    assert calls == [0, 1, 2, 3]  # windows 0 and 1 ran once, before the loss
    assert {w.index: w.pk for w in done.windows.filter(index__lt=2)} == first
    assert WalkForwardWindow.objects.filter(walkforward=done).count() == 4


def test_windows_that_do_not_fit_the_bars_are_refused_at_submit(submit_walkforward):
    from tradeplatform.errors import DomainValidationError

    with pytest.raises(DomainValidationError) as caught:
        submit_walkforward(in_sample_bars=100, out_of_sample_bars=30, step_bars=30)
    assert "windows" in caught.value.details
    with pytest.raises(DomainValidationError) as caught:
        submit_walkforward(step_bars=10)  # step below out-of-sample: overlapping windows
    assert "step" in str(caught.value.details["windows"])
    assert N_BARS == 120


def test_a_window_where_no_combination_has_enough_trades_stays_out_of_the_market(
    submit_walkforward,
):
    done = _run(submit_walkforward(min_trades=1_000))

    assert done.status == JobStatus.SUCCEEDED
    for window in done.windows.all():
        assert window.parameters == {} and window.candidates == 0
        assert set(window.oos_equity["v"]) == {10_000.0}
    assert done.result.summary["total_return"] == 0.0


def test_progress_moves_within_a_window_and_ends_at_one(submit_walkforward, settings, monkeypatch):
    settings.BACKTEST_PROGRESS_INTERVAL_SECONDS = 0
    from backtesting.jobs.lifecycle import JobClaim

    seen: list[float] = []
    real = JobClaim.on_progress

    def record(self, fraction):
        seen.append(round(fraction, 4))
        real(self, fraction)

    monkeypatch.setattr(JobClaim, "on_progress", record)
    done = _run(submit_walkforward())

    # 4 windows of 4 combinations: the sweep of window k reports k/4 + 0.9 * j/16 after its
    # j-th combination (the first always, later ones at most every 0.1 s: the sandbox child
    # thins them), then the window's end (k + 1)/4.
    within = {round(k / 4 + 0.9 * j / 16, 4) for k in range(4) for j in range(1, 5)}
    ends = [0.25, 0.5, 0.75, 1.0]
    assert seen[:1] == [0.0563]  # moved within the first window, before its end
    assert set(seen) <= within | set(ends) and set(ends) <= set(seen)
    assert seen == sorted(seen) and seen[-1] == 1.0 and done.progress == 1.0
