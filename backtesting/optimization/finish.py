"""The end of a sweep: its best combination, and that combination's PSR and DSR given the trials.

The batch protocol returns headline metrics only (no return series), so the deflated Sharpe
ratio, which needs the best combination's skewness and kurtosis, comes from re-running that one
combination once as a normal engine run in the sandbox and taking its daily returns. One run per
sweep: negligible next to the sweep, and exactly the returns the engine's own Sharpe uses.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
from django.conf import settings
from django.utils import timezone

from backtesting import sandbox
from backtesting.bars import bars_for_backtest
from backtesting.engine.metrics import daily_returns, infer_periods_per_year
from backtesting.engine.research.deflated_sharpe import return_moments, sweep_deflated_sharpe
from backtesting.engine.research.ranking import rank_rows
from backtesting.jobs.fields import ACTIVE_STATUSES, JobStatus
from backtesting.optimization.models import Optimization, OptimizationResult, ResultStatus

logger = logging.getLogger(__name__)


def optimization_finish(*, optimization_id: int) -> None:
    """End a sweep whose chunks all ended: `succeeded` with its best row and DSR, or `failed`
    when no combination ran. Two finishers racing: the conditional UPDATE lets one write."""
    optimization = Optimization.objects.select_related("strategy_version").get(pk=optimization_id)
    rows: list[dict[str, Any]] = [
        dict(row)
        for row in OptimizationResult.objects.filter(
            optimization_id=optimization_id, status=ResultStatus.OK
        )
        .order_by("index")
        .values("index", "parameters", "metrics")
    ]
    if not rows:
        first_error = (
            OptimizationResult.objects.filter(optimization_id=optimization_id)
            .order_by("index")
            .values_list("error_message", flat=True)
            .first()
        )
        _end(
            optimization_id,
            JobStatus.FAILED,
            error_code="no_combination_ran",
            error_message=first_error or "No combination ran.",
            progress=1.0,
        )
        return
    ranked = rank_rows(
        [r["metrics"] for r in rows],
        optimization.objective,
        direction=optimization.direction,
        min_trades=optimization.min_trades,
    )
    best = rows[ranked[0]] if ranked else None
    deflated = _deflated(optimization, best, rows) if best else {}
    _end(
        optimization_id,
        JobStatus.SUCCEEDED,
        progress=1.0,
        deflated=deflated,
        best_index=best["index"] if best else None,
        best_objective=_objective(optimization, best["index"]) if best else None,
    )


def _objective(optimization: Optimization, index: int) -> float | None:
    return (
        OptimizationResult.objects.filter(optimization=optimization, index=index)
        .values_list("objective", flat=True)
        .first()
    )


def _end(optimization_id: int, status: str, **fields: Any) -> None:
    Optimization.objects.filter(pk=optimization_id, status__in=ACTIVE_STATUSES).update(
        status=status, finished_at=timezone.now(), lease_expires_at=None, **fields
    )


def _deflated(
    optimization: Optimization, best: dict[str, Any], rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """{"sharpe", "psr", "dsr", "expected_max_sharpe", "n_trials", ...}, or {"error": ...}."""
    try:
        timestamps, equity = _best_run_curve(optimization, best["parameters"])
    except sandbox.SandboxError as exc:
        return {"error": exc.message}
    moments = return_moments(daily_returns(timestamps, equity))
    trials = [r["metrics"].get("sharpe_ratio") for r in rows]
    result = sweep_deflated_sharpe(
        moments,
        trials,
        periods_per_year=infer_periods_per_year(timestamps),
        n_trials=optimization.results.count(),
    )
    return {
        "sharpe": _finite(result.sharpe),
        "psr": _finite(result.probabilistic_sharpe_ratio),
        "dsr": _finite(result.deflated_sharpe_ratio),
        "expected_max_sharpe": _finite(result.expected_max_sharpe),
        "n_trials": result.n_trials,
        "skewness": _finite(moments.skewness),
        "kurtosis": _finite(moments.kurtosis),
        "n_returns": moments.n,
    }


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _best_run_curve(
    optimization: Optimization, parameters: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    bars = bars_for_backtest(
        symbols=list(optimization.symbols),
        timeframe=optimization.timeframe,
        start=optimization.start,
        end=optimization.end,
    ).bars
    result = sandbox.run_strategy_in_sandbox(
        code=optimization.strategy_version.code,
        spec={**optimization.spec_dict(), "params": {**optimization.parameters, **parameters}},
        bars=bars,
        timeframe=optimization.timeframe,
        limits=sandbox_limits(),
    )
    curve = result["equity_curve"]
    return curve.timestamps, curve.equity


def sandbox_limits() -> sandbox.SandboxLimits:
    """One run's limits, as for a backtest (a batch of n gets n times the CPU and wall clock)."""
    return sandbox.SandboxLimits(
        cpu_seconds=settings.BACKTEST_SANDBOX_CPU_SECONDS,
        wall_seconds=settings.BACKTEST_SANDBOX_WALL_SECONDS,
        memory_bytes=settings.BACKTEST_SANDBOX_MEMORY_MB * 1024 * 1024,
    )
