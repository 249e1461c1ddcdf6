"""What a worker does with one walk-forward: claim it, load the bars once, and per window run
the in-sample sweep in one sandbox child, rank it, run the winner out of sample; then stitch.

Recovery: each window is stored as soon as it is done, unique per (walkforward, index) and
inserted with ON CONFLICT DO NOTHING, so a walk-forward re-claimed after its worker died redoes
only the windows not yet stored. The summary is written in the same transaction as the
`succeeded` status, conditional on the claim.

Warm-up: the out-of-sample run gets the in-sample bars before it (at most `in_sample_bars`)
as `warmup_bars`, so its indicators are defined on the first out-of-sample bar, the strategy is
not called before it, and its curve and statistics start there: nothing of the in-sample
period counts out of sample.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction

from backtesting import sandbox
from backtesting.bars import bars_for_backtest
from backtesting.engine.bars import BarSeries, align_bars
from backtesting.engine.research.ranking import objective_value, rank_rows
from backtesting.engine.research.walkforward import WalkForwardWindow as Window
from backtesting.engine.research.walkforward import walk_forward_windows
from backtesting.jobs.fields import JobStatus
from backtesting.jobs.lifecycle import ClaimOutcome, JobClaim, job_claim
from backtesting.optimization.finish import sandbox_limits
from backtesting.optimization.space import Combination
from backtesting.walkforward.models import WalkForward, WalkForwardResult, WalkForwardWindow
from backtesting.walkforward.services import walkforward_finish_effects, walkforward_plan
from backtesting.walkforward.summary import walkforward_summary
from strategies.paramspec import ParameterSpace

logger = logging.getLogger(__name__)

# Combinations per sandbox child in sample: a grid larger than this runs as several batches.
BATCH_SIZE = 500
NS_PER_DAY = 86_400 * 10**9


class WalkForwardCancelledError(Exception):
    """The user cancelled (or the claim was lost): stop between windows."""


def walkforward_execute(*, walkforward_id: int) -> WalkForward | None:
    """Claim, run every window not yet stored, stitch and store; returns the row in its final
    state (None if gone).

    The user's failures (their code in the sandbox, windows that do not fit the bars) end it
    `failed`, never retried; database and broker errors release the claim and propagate so the
    task retries them.
    """
    token = uuid.uuid4().hex
    if job_claim(WalkForward, job_id=walkforward_id, token=token) is not ClaimOutcome.CLAIMED:
        return WalkForward.objects.filter(pk=walkforward_id).first()
    claim = JobClaim(WalkForward, walkforward_id, token)
    walkforward = WalkForward.objects.select_related("strategy_version").get(pk=walkforward_id)
    try:
        bars = _bars(walkforward)
        _run_windows(walkforward, bars, claim)
        _store(claim, walkforward, bars)
    except (WalkForwardCancelledError, sandbox.SandboxCancelledError):
        claim.fail(JobStatus.CANCELLED, "cancelled", "Cancelled by the user.")
    except SoftTimeLimitExceeded:
        claim.fail(JobStatus.FAILED, "time_limit", "The walk-forward ran too long.")
    except sandbox.SandboxError as exc:
        claim.fail(JobStatus.FAILED, exc.code, exc.message, exc.to_dict())
    except ValueError as exc:  # windows that do not fit, data the engine refuses
        claim.fail(JobStatus.FAILED, "invalid_input", str(exc))
    except BaseException:
        claim.release()
        raise
    return WalkForward.objects.filter(pk=walkforward_id).first()


def _bars(walkforward: WalkForward) -> dict[str, BarSeries]:
    # Loaded once per claim: every window's in-sample and out-of-sample runs slice these.
    return bars_for_backtest(
        symbols=list(walkforward.symbols),
        timeframe=walkforward.timeframe,
        start=walkforward.start,
        end=walkforward.end,
    ).bars


def _run_windows(walkforward: WalkForward, bars: dict[str, BarSeries], claim: JobClaim) -> None:
    clock = align_bars(dict(bars)).timestamps
    windows = walk_forward_windows(
        len(clock),
        walkforward.in_sample_bars,
        walkforward.out_of_sample_bars,
        walkforward.step_bars,
        anchored=walkforward.mode == "anchored",
    )
    WalkForward.objects.filter(pk=walkforward.pk).update(n_windows=len(windows))
    walkforward.n_windows = len(windows)
    plan = walkforward_plan(walkforward, walkforward.parameters)[0]
    stored = set(walkforward.windows.values_list("index", flat=True))
    for window in windows:
        if window.index in stored:
            continue
        if claim.should_cancel():
            raise WalkForwardCancelledError()
        row = window_run(walkforward, bars, clock, window, plan, claim)
        if claim.lost:
            raise WalkForwardCancelledError()
        WalkForwardWindow.objects.bulk_create([row], ignore_conflicts=True)
        claim.on_progress((window.index + 1) / len(windows))


def bars_slice(
    bars: Mapping[str, BarSeries], clock: np.ndarray, lo: int, hi: int
) -> dict[str, BarSeries]:
    """Every instrument's bars whose time lies in the clock's bars [lo, hi)."""
    first, last = clock[lo], clock[hi - 1]
    out = {}
    for symbol, series in bars.items():
        keep = (series.timestamps >= first) & (series.timestamps <= last)
        out[symbol] = BarSeries(
            symbol,
            series.timestamps[keep],
            series.open[keep],
            series.high[keep],
            series.low[keep],
            series.close[keep],
            series.volume[keep],
        )
    return out


def window_run(
    walkforward: WalkForward,
    bars: Mapping[str, BarSeries],
    clock: np.ndarray,
    window: Window,
    plan: Sequence[Combination],
    claim: JobClaim,
) -> WalkForwardWindow:
    """One window: the in-sample sweep, the ranking, the winner out of sample (unsaved row)."""
    in_sample = bars_slice(bars, clock, window.is_start, window.is_end)
    items = _in_sample(walkforward, in_sample, plan, claim, window.index)
    rows = [dict(item.metrics) if item.ok and item.metrics else {} for item in items]
    order = rank_rows(
        rows,
        walkforward.objective,
        direction=walkforward.direction,
        min_trades=walkforward.min_trades,
    )
    row = WalkForwardWindow(
        walkforward=walkforward,
        index=window.index,
        is_start_bar=window.is_start,
        is_end_bar=window.is_end,
        oos_end_bar=window.oos_end,
        is_start=_time(clock[window.is_start]),
        is_end=_time(clock[window.is_end - 1]),
        oos_start=_time(clock[window.is_end]),
        oos_end=_time(clock[window.oos_end - 1]),
        candidates=len(order),
    )
    oos_clock = clock[window.is_end : window.oos_end]
    if not order:
        # No combination qualified in sample (too few trades): following the rule, the trader
        # stays out of the market for this window, so its out-of-sample curve is flat.
        cash = float(walkforward.settings.get("initial_cash", 100_000.0))
        row.oos_equity = _compact_curve(oos_clock, np.full(len(oos_clock), cash))
        return row
    best = order[0]
    row.parameters = dict(plan[best])
    row.is_metrics = rows[best]
    row.is_objective = objective_value(rows[best], walkforward.objective)
    result = _out_of_sample(walkforward, bars, clock, window, row.parameters, claim)
    row.oos_metrics = result["statistics"]
    curve = result["equity_curve"]
    row.oos_equity = _compact_curve(curve.timestamps, curve.equity)
    return row


def _in_sample(
    walkforward: WalkForward,
    bars: dict[str, BarSeries],
    plan: Sequence[Combination],
    claim: JobClaim,
    window_index: int,
) -> list[sandbox.BatchItemResult]:
    items: list[sandbox.BatchItemResult] = []
    n_windows = max(walkforward.n_windows, 1)

    def progress(offset: int) -> Callable[[int, int], None]:
        # Within a window the sweep is most of the work: the bar moves with its combinations.
        return lambda done, _: claim.on_progress(
            (window_index + 0.9 * (offset + done) / len(plan)) / n_windows
        )

    for offset in range(0, len(plan), BATCH_SIZE):
        part = plan[offset : offset + BATCH_SIZE]
        batch = sandbox.run_strategy_batch_in_sandbox(
            walkforward.strategy_version.code,
            walkforward.spec_dict(),
            bars,
            [{**walkforward.parameters, **params} for params in part],
            ParameterSpace.from_dicts(walkforward.strategy_version.parameters),
            limits=sandbox_limits(),
            on_progress=progress(offset),
            should_cancel=claim.should_cancel,
            timeframe=walkforward.timeframe,
        )
        items.extend(batch.items)
    return items


def _out_of_sample(
    walkforward: WalkForward,
    bars: Mapping[str, BarSeries],
    clock: np.ndarray,
    window: Window,
    chosen: Combination,
    claim: JobClaim,
) -> dict[str, Any]:
    warmup = min(walkforward.in_sample_bars, window.is_end)
    spec = {
        **walkforward.settings,
        "warmup_bars": warmup,
        "params": {**walkforward.parameters, **chosen},
    }
    return sandbox.run_strategy_in_sandbox(
        walkforward.strategy_version.code,
        spec,
        bars_slice(bars, clock, window.is_end - warmup, window.oos_end),
        limits=sandbox_limits(),
        should_cancel=claim.should_cancel,
        timeframe=walkforward.timeframe,
    )


def _compact_curve(timestamps_ns: np.ndarray, equity: np.ndarray) -> dict[str, list[Any]]:
    """The first point and each day's last point ({"t": epoch seconds, "v": equity}): enough
    for stitching (segments join at their ends) and for daily-return statistics."""
    ts = np.asarray(timestamps_ns, dtype=np.int64)
    if len(ts) == 0:
        return {"t": [], "v": []}
    days = ts // NS_PER_DAY
    day_ends = np.append(np.flatnonzero(np.diff(days)), len(ts) - 1)
    keep = np.unique(np.concatenate(([0], day_ends)))
    return {"t": (ts[keep] // 10**9).tolist(), "v": [float(v) for v in equity[keep]]}


def _time(ns: Any) -> datetime:
    return datetime.fromtimestamp(int(ns) // 10**9, tz=UTC)


def _store(claim: JobClaim, walkforward: WalkForward, bars: dict[str, BarSeries]) -> None:
    if claim.lost:
        raise WalkForwardCancelledError()
    windows = list(walkforward.windows.order_by("index"))
    summary, curve = walkforward_summary(walkforward, windows, align_bars(dict(bars)))
    with transaction.atomic():
        if not claim.mark_succeeded():
            # Cancelled, deleted or re-claimed meanwhile: this attempt's result must not land.
            transaction.set_rollback(True)
            return
        WalkForwardResult.objects.update_or_create(
            walkforward_id=claim.job_id, defaults={"summary": summary, "curve": curve}
        )
    walkforward_finish_effects(claim.job_id, JobStatus.SUCCEEDED)
