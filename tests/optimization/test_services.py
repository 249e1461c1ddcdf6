"""Sweeps end to end through the services and the real sandbox: plans, chunks, best, DSR."""

from __future__ import annotations

import math
import struct
from datetime import timedelta
from unittest.mock import ANY

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from backtesting import sandbox
from backtesting.execution import backtest_execute
from backtesting.jobs.recovery import job_recover_stale
from backtesting.optimization import execution
from backtesting.optimization.execution import optimization_chunk_execute
from backtesting.optimization.models import Optimization, OptimizationChunk, OptimizationResult
from backtesting.optimization.services import (
    DEFAULT_CHUNK_SIZE,
    chunk_size_for,
    even_chunks,
    optimization_cancel,
    optimization_result_backtest,
    optimization_submit,
)
from benchmarks.research.baselines import SIGNALS_STRATEGY_FILE
from strategies.validation import strategy_style, validate_strategy_code
from tests.backtesting.conftest import START, seed_bars
from tests.factories import SMA_CROSS_CODE, StrategyFactory, StrategyVersionFactory
from tests.optimization.conftest import SMA_GRID, run_all_chunks, sweep_input
from tradeplatform.errors import ConflictError, DomainValidationError

pytestmark = pytest.mark.django_db


def test_the_sma_grid_with_fast_below_slow_runs_exactly_90_combinations(sweep):
    optimization = sweep()
    assert optimization.total == 90
    # Cheap combinations (500 daily bars): one chunk for each of the two worker slots a user's
    # sweep may hold (OPTIMIZATION_USER_MAX_RUNNING), not 23 + 23 + 22 + 22.
    sizes = [len(c.combinations) for c in optimization.chunks.order_by("number")]
    assert sizes == [45, 45]
    optimization = run_all_chunks(optimization)
    assert optimization.status == "succeeded"
    assert optimization.progress == 1.0
    rows = OptimizationResult.objects.filter(optimization=optimization)
    assert rows.count() == 90
    assert all(r["fast"] < r["slow"] for r in rows.values_list("parameters", flat=True))
    assert sorted(rows.values_list("index", flat=True)) == list(range(90))


def test_a_signals_strategy_gets_fewer_larger_chunks_than_a_next_one(owner):
    # 3,000 daily bars: next() runs Python per bar (~30 ms a combination), so about a second
    # of work is 33 combinations: 4 chunks; signals() is ~0.5 ms a combination: 2 chunks.
    seed_bars("LONG", n=3_000)
    code = SIGNALS_STRATEGY_FILE.read_text()
    declared = [p.to_dict() for p in validate_strategy_code(code).parameters]
    strategy = StrategyFactory(owner=owner, code="")
    signals = StrategyVersionFactory(
        strategy=strategy, code=code, class_name="SmaCrossoverSignals", parameters=declared
    )
    every_bar = StrategyFactory(owner=owner).versions.get()
    span = {"symbols": ["LONG"], "end": START + timedelta(days=3_000)}
    sizes = {
        style: [
            len(c.combinations)
            for c in optimization_submit(
                owner=owner, data=sweep_input(version, **span)
            ).chunks.order_by("number")
        ]
        for style, version in (("signals", signals), ("next", every_bar))
    }
    assert sizes == {"signals": [45, 45], "next": [23, 23, 22, 22]}


def test_the_style_of_a_strategy_is_read_from_its_code():
    assert strategy_style(SIGNALS_STRATEGY_FILE.read_text()) == "signals"
    assert strategy_style(SMA_CROSS_CODE) == "next"
    assert strategy_style("x = (") is None  # unreadable: the sweep then assumes next()


def test_the_sweep_turns_running_with_its_first_chunk_and_keeps_that_start(sweep, chunks_of_25):
    optimization = sweep()
    first, second, *_ = optimization.chunks.order_by("number")
    assert optimization.status == "queued" and optimization.started_at is None
    optimization_chunk_execute(chunk_id=first.pk)
    optimization.refresh_from_db()
    assert optimization.status == "running"
    started = optimization.started_at
    assert started is not None
    optimization_chunk_execute(chunk_id=second.pk)
    optimization.refresh_from_db()
    assert optimization.status == "running" and optimization.started_at == started


@pytest.mark.parametrize(
    ("n", "max_size", "sizes"),
    [(90, 25, [23, 23, 22, 22]), (100, 25, [25] * 4), (7, 25, [7]), (26, 25, [13, 13]),
     (2000, 25, [25] * 80), (0, 25, [])],
)  # fmt: skip
def test_chunks_are_the_fewest_within_the_size_and_differ_by_at_most_one(n, max_size, sizes):
    bounds = even_chunks(n, max_size)
    assert [end - begin for begin, end in bounds] == sizes
    ends = [end for _, end in bounds]
    assert [begin for begin, _ in bounds] == [0, *ends][: len(bounds)]  # back to back from 0


@pytest.mark.parametrize(
    ("n", "bars", "fan_out", "style", "sizes"),
    [(90, 2520, 2, "signals", [45, 45]), (90, 2520, 3, "signals", [30, 30, 30]),
     (90, 100_000, 2, "signals", [45, 45]), (90, 2520, 0, "signals", [23, 23, 22, 22]),
     (90, 2520, 8, "signals", [23, 23, 22, 22]), (40, 2520, 2, "signals", [20, 20]),
     (4, 500, 2, "signals", [4]), (2000, 2520, 2, "signals", [1000, 1000]),
     # ~3.4 ms a combination: ~294 fit in a second, so 7 chunks, rounded up to 8
     (2000, 100_000, 2, "signals", [250] * 8),
     (2000, 2_000_000, 2, "signals", [25] * 80),  # ~60 ms each: never under 25 a chunk
     # next(): ~25 ms a combination of ten years of daily bars; 20 ms on 2,000, 50 a second
     (90, 2520, 2, "next", [23, 23, 22, 22]), (2000, 2000, 2, "next", [50] * 40),
     (90, 2520, 2, None, [23, 23, 22, 22]), (2000, 100_000, 2, "next", [25] * 80)],
)  # fmt: skip
def test_chunks_hold_about_a_second_of_work_spread_over_the_fan_out(n, bars, fan_out, style, sizes):
    size = chunk_size_for(n, bars=bars, fan_out=fan_out, style=style)
    assert [end - begin for begin, end in even_chunks(n, size)] == sizes


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 5000), bars=st.integers(1, 10**7), fan_out=st.integers(0, 16),
    style=st.sampled_from(["signals", "next", None]),
)  # fmt: skip
def test_chunking_never_makes_more_chunks_than_chunks_of_25_nor_fewer_than_the_fan_out(
    n, bars, fan_out, style
):
    size = chunk_size_for(n, bars=bars, fan_out=fan_out, style=style)
    count = len(even_chunks(n, size))
    of_25 = len(even_chunks(n, DEFAULT_CHUNK_SIZE))
    assert count <= of_25
    assert count >= min(of_25, fan_out) if fan_out else count == of_25


def test_a_random_space_with_constraints_runs_exactly_the_samples_asked_for(sweep):
    space = {**SMA_GRID, "kind": "random", "samples": 40, "seed": 3}
    first, second = sweep(space=space), sweep(space=space)
    assert first.total == 40 and first.chunks.count() == 2
    plan = [c for chunk in first.chunks.all() for c in chunk.combinations]
    assert [c[0] for c in plan] == list(range(40))
    assert all(p["fast"] < p["slow"] for _, p in plan)
    again = [c for chunk in second.chunks.all() for c in chunk.combinations]
    assert plan == again  # the same seed draws the same combinations


def test_tpe_batches_are_reproducible_from_the_seed(sweep):
    space = {**SMA_GRID, "kind": "tpe", "samples": 24, "seed": 7, "batch_size": 8}
    runs = [run_all_chunks(sweep(space=space)) for _ in range(2)]
    other = run_all_chunks(sweep(space={**space, "seed": 8}))
    seen = [
        list(
            OptimizationResult.objects.filter(optimization=o)
            .order_by("index")
            .values_list("parameters", flat=True)
        )
        for o in (*runs, other)
    ]
    assert len(seen[0]) == 24 and runs[0].chunks.count() == 3  # three ask/tell batches
    assert seen[0] == seen[1]
    assert seen[0] != seen[2]
    assert all(p["fast"] < p["slow"] for p in seen[0])
    assert runs[0].best_index == runs[1].best_index


def test_the_best_combination_ranks_first_among_those_with_enough_trades(sweep):
    space = {
        "kind": "grid",
        "parameters": {
            "fast": {"min": 5, "max": 30, "step": 5},
            "slow": {"min": 40, "max": 120, "step": 40},
        },
    }
    unfiltered = run_all_chunks(sweep(space=space))
    rows = list(OptimizationResult.objects.filter(optimization=unfiltered, status="ok"))
    best = max(rows, key=lambda r: r.objective)
    assert unfiltered.best_index == best.index
    # Require more trades than the best has: the best must then come from the others.
    min_trades = best.n_trades + 1
    eligible = [r for r in rows if r.n_trades >= min_trades]
    assert eligible, "the fixture needs a combination with more trades than the best"
    filtered = run_all_chunks(sweep(space=space, min_trades=min_trades))
    assert filtered.best_index == max(eligible, key=lambda r: r.objective).index
    minimised = run_all_chunks(sweep(space=space, direction="min"))
    assert minimised.best_index == min(rows, key=lambda r: r.objective).index


def test_a_sweep_row_equals_a_normal_backtest_of_the_same_parameters(sweep, owner):
    optimization = run_all_chunks(sweep())
    best = OptimizationResult.objects.get(optimization=optimization, index=optimization.best_index)
    backtest = optimization_result_backtest(optimization=optimization, result=best, owner=owner)
    assert backtest.parameters == {**optimization.parameters, **best.parameters}
    backtest = backtest_execute(backtest_id=backtest.pk)
    assert backtest is not None and backtest.status == "succeeded"
    for key, value in best.metrics.items():
        expected = value if value is None else pytest.approx(value, rel=1e-12, abs=1e-12)
        assert backtest.metrics[key] == expected, key
    # The DSR's re-run of the best combination reproduces the sweep's Sharpe.
    deflated = optimization.deflated
    assert deflated["sharpe"] == pytest.approx(best.metrics["sharpe_ratio"], rel=1e-9)
    assert deflated["n_trials"] == 90
    assert 0.0 <= deflated["dsr"] < deflated["psr"] <= 1.0


def test_constraints_are_compiled_at_submit_and_a_bad_one_names_its_column(sweep):
    with pytest.raises(DomainValidationError) as caught:
        sweep(constraints=["fast < slow", "fast < slow +"])
    assert caught.value.details == {"constraints": {"1": {"message": ANY, "column": ANY}}}
    with pytest.raises(DomainValidationError) as caught:
        sweep(constraints=["fast < nope"])
    assert "nope" in caught.value.details["constraints"]["0"]["message"]
    with pytest.raises(DomainValidationError) as caught:
        sweep(space={"kind": "grid", "parameters": {"fast": {"min": 1, "max": 50, "step": 5}}})
    assert "fast" in caught.value.details["space"]


def test_a_sweep_larger_than_the_bound_is_refused(sweep, settings):
    settings.OPTIMIZATION_MAX_COMBINATIONS = 89
    with pytest.raises(DomainValidationError, match="90 combinations"):
        sweep()
    assert not Optimization.objects.exists()


def test_a_chunk_failing_for_the_users_code_fails_its_rows_and_no_other(
    sweep, monkeypatch, chunks_of_25
):
    real = sandbox.run_strategy_batch_in_sandbox

    def second_chunk_runs_out_of_memory(code, spec, bars, sets, *args, **kwargs):
        if {"fast": 5, "slow": 140} in [{"fast": s["fast"], "slow": s["slow"]} for s in sets]:
            raise sandbox.MemoryLimitError("The strategy used more than 1024 MB.")
        return real(code, spec, bars, sets, *args, **kwargs)

    monkeypatch.setattr(sandbox, "run_strategy_batch_in_sandbox", second_chunk_runs_out_of_memory)
    optimization = run_all_chunks(sweep())
    chunks = dict(optimization.chunks.values_list("number", "status"))
    failed_number = next(n for n, s in chunks.items() if s == "failed")
    assert list(chunks.values()).count("succeeded") == 3
    rows = OptimizationResult.objects.filter(optimization=optimization)
    assert rows.count() == 90
    failed = rows.filter(status="failed")
    failed_chunk = optimization.chunks.get(number=failed_number)
    assert sorted(failed.values_list("index", flat=True)) == [
        i for i, _ in failed_chunk.combinations
    ]
    assert set(failed.values_list("error_message", flat=True)) == {
        "The strategy used more than 1024 MB."
    }
    assert optimization.status == "succeeded" and optimization.best_index is not None


def test_a_redelivered_chunk_reruns_only_what_was_not_stored_and_counts_nothing_twice(
    sweep, monkeypatch, chunks_of_25
):
    optimization = sweep()
    chunk = optimization.chunks.get(number=0)
    optimization_chunk_execute(chunk_id=chunk.pk)
    first_rows = {
        r.index: r.metrics for r in OptimizationResult.objects.filter(optimization=optimization)
    }
    assert len(first_rows) == 23
    # The worker died after storing 15 rows and before ending the chunk: its lease expired.
    OptimizationResult.objects.filter(optimization=optimization, index__gte=15).delete()
    OptimizationChunk.objects.filter(pk=chunk.pk).update(
        status="running", claim_token="dead", lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    report = job_recover_stale(OptimizationChunk)
    assert report.requeued_running == [chunk.pk]
    sets_run: list[int] = []
    real = sandbox.run_strategy_batch_in_sandbox

    def counting(code, spec, bars, sets, *args, **kwargs):
        sets_run.append(len(sets))
        return real(code, spec, bars, sets, *args, **kwargs)

    monkeypatch.setattr(sandbox, "run_strategy_batch_in_sandbox", counting)
    optimization_chunk_execute(chunk_id=chunk.pk)
    optimization_chunk_execute(chunk_id=chunk.pk)  # a duplicate message: nothing to do
    assert sets_run == [8]
    rows = {
        r.index: r.metrics for r in OptimizationResult.objects.filter(optimization=optimization)
    }
    assert rows == first_rows
    chunk.refresh_from_db()
    assert chunk.status == "succeeded" and chunk.attempts == 2


def test_an_attempt_that_lost_its_claim_fails_nothing(sweep, monkeypatch, chunks_of_25):
    optimization = sweep()
    chunk = optimization.chunks.get(number=0)

    def reclaimed_meanwhile_then_fails(*args, **kwargs):
        # Its lease ran out while it ran; another worker claimed the chunk and runs it.
        OptimizationChunk.objects.filter(pk=chunk.pk).update(
            claim_token="another", lease_expires_at=timezone.now() + timedelta(minutes=5)
        )
        raise sandbox.MemoryLimitError("The strategy used more than 1024 MB.")

    monkeypatch.setattr(sandbox, "run_strategy_batch_in_sandbox", reclaimed_meanwhile_then_fails)
    optimization_chunk_execute(chunk_id=chunk.pk)
    # Failed rows written now would make the live attempt's results conflicts, dropped.
    assert not OptimizationResult.objects.filter(optimization=optimization).exists()
    chunk.refresh_from_db()
    assert chunk.status == "running" and chunk.claim_token == "another"


def test_a_redelivered_chunk_that_ended_advances_its_sweep_again(sweep, monkeypatch):
    from django.db import OperationalError

    from backtesting.optimization import services

    real = services.optimization_advance
    calls: list[int] = []

    def the_second_advance_fails(*, optimization_id):
        calls.append(optimization_id)
        if len(calls) == 2:
            raise OperationalError("the database went away")
        real(optimization_id=optimization_id)

    monkeypatch.setattr(services, "optimization_advance", the_second_advance_fails)
    optimization = sweep()
    first, second = optimization.chunks.order_by("number")
    optimization_chunk_execute(chunk_id=first.pk)
    with pytest.raises(OperationalError):  # the chunk's rows and success committed first
        optimization_chunk_execute(chunk_id=second.pk)
    optimization.refresh_from_db()
    assert optimization.status == "running"
    optimization_chunk_execute(chunk_id=second.pk)  # the task's retry finds the chunk ended
    optimization.refresh_from_db()
    assert optimization.status == "succeeded" and optimization.progress == 1.0
    assert optimization.best_index is not None


def test_a_first_attempt_finding_rows_stored_keeps_them_and_counts_nothing_twice(sweep):
    # A first attempt does not look for stored rows (none can be there); were one there all
    # the same (a requeue resets the attempt count), the insert keeps it and adds no second.
    space = {"kind": "grid", "parameters": {"fast": {"min": 5, "max": 15, "step": 5}}}
    optimization = sweep(space=space, constraints=[])
    chunk = optimization.chunks.get()
    OptimizationResult.objects.create(
        optimization=optimization, index=1, parameters={"fast": 10}, status="failed",
        error_message="Stored by an earlier attempt.",
    )  # fmt: skip
    optimization_chunk_execute(chunk_id=chunk.pk)
    rows = OptimizationResult.objects.filter(optimization=optimization).order_by("index")
    assert [(r.index, r.status) for r in rows] == [(0, "ok"), (1, "failed"), (2, "ok")]
    assert rows[1].error_message == "Stored by an earlier attempt."
    optimization.refresh_from_db()
    assert optimization.status == "succeeded" and optimization.progress == 1.0


# Objectives whose bits a detour through text or numeric would change: a sum's last bit, the
# signed zero, the smallest and largest doubles, the infinities (a ratio can overflow).
EXACT_OBJECTIVES = [0.1 + 0.2, -0.0, 5e-324, 1.7976931348623157e308, math.inf, -math.inf, None]


@pytest.mark.parametrize("vendor", ["postgresql", "any other database"])
def test_rows_store_their_objective_bit_for_bit_and_a_stored_combination_keeps_its_row(
    sweep, monkeypatch, vendor
):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite stores -0.0 as 0.0: both variants run on PostgreSQL")
    optimization = sweep()
    OptimizationResult.objects.create(
        optimization=optimization, index=0, parameters={}, status="failed",
        error_message="Stored first.",
    )  # fmt: skip
    if vendor != "postgresql":  # the ORM's bulk insert, as on SQLite
        monkeypatch.setattr(connection, "vendor", "sqlite")
    rows = [
        {"index": index, "parameters": {"fast": index}, "status": "ok", "objective": objective,
         "n_trades": index, "metrics": {"sharpe_ratio": 0.1 + 0.2}, "error_message": ""}
        for index, objective in enumerate(EXACT_OBJECTIVES)
    ]  # fmt: skip
    execution._rows_insert(optimization.pk, rows)
    monkeypatch.undo()
    stored = OptimizationResult.objects.filter(optimization=optimization).order_by("index")
    first, *others = stored
    assert (first.status, first.error_message) == ("failed", "Stored first.")
    for row, expected in zip(others, EXACT_OBJECTIVES[1:], strict=True):
        bits = None if row.objective is None else struct.pack("<d", row.objective)
        assert bits == (None if expected is None else struct.pack("<d", expected)), row.index
        assert (row.status, row.n_trades, row.parameters) == ("ok", row.index, {"fast": row.index})
        assert row.metrics == {"sharpe_ratio": 0.1 + 0.2} and row.error_message == ""


def _statements(queries: CaptureQueriesContext) -> list[str]:
    # The test's own transaction turns every atomic block into a savepoint: not a worker's.
    return [
        q["sql"]
        for q in queries.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]


def test_a_chunk_in_the_middle_of_a_sweep_costs_eleven_statements(sweep, chunks_of_25):
    optimization = sweep()
    optimization_chunk_execute(chunk_id=optimization.chunks.get(number=0).pk)
    chunk = optimization.chunks.get(number=1)
    with CaptureQueriesContext(connection) as queries:
        done = optimization_chunk_execute(chunk_id=chunk.pk)
    # The claim (its read with the sweep and strategy, the owner's lock, the fairness count,
    # the UPDATE), the bars' version, the rows' INSERT and the chunk's success, then the
    # sweep's advance (its lock, the rows' count, its progress, any chunk still active). No
    # second read of the chunk, no look for rows a first attempt cannot have stored, no read
    # of the sweep's id or of the chunk's final state: 15 before.
    assert len(_statements(queries)) == 11, "\n".join(_statements(queries))
    assert done is not None and done.status == "succeeded" and done.finished_at is not None
    stored = OptimizationChunk.objects.values("status", "progress", "finished_at").get(pk=chunk.pk)
    assert stored == {"status": done.status, "progress": 1.0, "finished_at": done.finished_at}
    assert OptimizationResult.objects.filter(optimization=optimization).count() == 46


def test_cancelling_ends_queued_chunks_at_once_and_stops_a_running_one(
    sweep, monkeypatch, settings, chunks_of_25
):
    settings.BACKTEST_CANCEL_POLL_SECONDS = 0.0
    optimization = sweep()
    first = optimization.chunks.get(number=0)
    optimization_chunk_execute(chunk_id=first.pk)
    real = sandbox.run_strategy_batch_in_sandbox

    def cancelled_while_running(*args, **kwargs):
        optimization_cancel(optimization=Optimization.objects.get(pk=optimization.pk))
        return real(*args, **kwargs)

    monkeypatch.setattr(sandbox, "run_strategy_batch_in_sandbox", cancelled_while_running)
    optimization_chunk_execute(chunk_id=optimization.chunks.get(number=1).pk)
    optimization.refresh_from_db()
    statuses = list(optimization.chunks.order_by("number").values_list("status", flat=True))
    assert statuses == ["succeeded", "cancelled", "cancelled", "cancelled"]
    assert optimization.status == "cancelled"
    assert OptimizationResult.objects.filter(optimization=optimization).count() == 23  # chunk 0
    with pytest.raises(ConflictError):
        optimization_cancel(optimization=optimization)


LEAKY = """from strategy import Strategy, Param
import indicators as ta

SEEN = []


class Leaky(Strategy):
    label = Param(1, min=1, max=10)

    def init(self):
        # Fresh state per combination: SEEN holds this run's entry only, so the period is 5.
        SEEN.append(self.label)
        self.fast = self.I(ta.sma, self.data.close, 5 * len(SEEN))
        self.slow = self.I(ta.sma, self.data.close, 40)

    def next(self):
        if ta.crossover(self.fast, self.slow):
            self.buy()
        elif ta.crossunder(self.fast, self.slow):
            self.close()
"""
# The sandbox refuses a class-level write outright: each combination fails with the message.
CLASS_WRITE = LEAKY.replace("SEEN.append(self.label)", "Leaky.runs = 1")


def _label_sweep(owner, code):
    from tests.factories import StrategyVersionFactory

    strategy = StrategyFactory(owner=owner, code="")
    version = StrategyVersionFactory(
        strategy=strategy,
        code=code,
        class_name="Leaky",
        parameters=[
            {
                "name": "label",
                "type": "int",
                "default": 1,
                "min": 1,
                "max": 10,
                "step": 1,
                "choices": None,
                "description": "",
            }
        ],
    )
    space = {"kind": "grid", "parameters": {"label": {"min": 1, "max": 4, "step": 1}}}
    optimization = optimization_submit(
        owner=owner, data=sweep_input(version, space=space, constraints=[])
    )
    assert optimization.chunks.count() == 1  # all four in one child
    return run_all_chunks(optimization)


def test_no_state_leaks_between_the_combinations_of_one_chunk(instrument, owner):
    optimization = _label_sweep(owner, LEAKY)
    rows = list(OptimizationResult.objects.filter(optimization=optimization).order_by("index"))
    assert [r.status for r in rows] == ["ok"] * 4, [r.error_message for r in rows]
    alone = optimization_result_backtest(optimization=optimization, result=rows[3], owner=owner)
    alone = backtest_execute(backtest_id=alone.pk)
    assert alone is not None and alone.status == "succeeded"
    for row in rows:
        assert row.metrics == rows[0].metrics
    assert rows[3].metrics["total_return"] == alone.metrics["total_return"]
    assert rows[3].metrics["n_trades"] == alone.metrics["n_trades"] > 0


def test_combinations_failing_in_the_users_code_are_failed_rows_with_the_message(instrument, owner):
    optimization = _label_sweep(owner, CLASS_WRITE)
    rows = OptimizationResult.objects.filter(optimization=optimization)
    assert list(rows.values_list("status", flat=True)) == ["failed"] * 4
    assert all("cannot modify" in m for m in rows.values_list("error_message", flat=True))
    assert optimization.status == "failed" and "cannot modify" in optimization.error_message
    assert optimization.chunks.get().status == "succeeded"  # the chunk ran; its rows failed


def test_a_chunk_out_of_attempts_fails_its_rows_and_the_sweep_still_ends(sweep, settings):
    space = {"kind": "grid", "parameters": {"fast": {"min": 5, "max": 10, "step": 5}}}
    optimization = sweep(space=space, constraints=[])
    chunk = optimization.chunks.get()
    # Its workers kept dying: every attempt was used and the last lease expired.
    OptimizationChunk.objects.filter(pk=chunk.pk).update(
        status="running",
        attempts=settings.BACKTEST_MAX_ATTEMPTS,
        claim_token="dead",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    optimization_chunk_execute(chunk_id=chunk.pk)
    chunk.refresh_from_db()
    assert chunk.status == "failed" and chunk.error_code == "too_many_attempts"
    rows = OptimizationResult.objects.filter(optimization=optimization)
    assert rows.count() == 2 and set(rows.values_list("status", flat=True)) == {"failed"}
    optimization.refresh_from_db()
    assert optimization.status == "failed" and "workers were lost" in optimization.error_message
