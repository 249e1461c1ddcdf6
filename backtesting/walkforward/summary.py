"""The walk-forward's summary once every window is stored: the stitched out-of-sample curve,
buy-and-hold over the same bars, metrics over the stitched curve, and the efficiency.

Metrics use the engine's functions on the stitched curve (daily returns, so intraday bars and
daily bars read alike). Efficiency follows docs/research.md: the annualised out-of-sample
return of the stitched curve over the mean annualised in-sample return of the windows' winners.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from backtesting.engine import metrics
from backtesting.engine.bars import AlignedBars
from backtesting.engine.research.walkforward import (
    annualize_total_return,
    stitch_equity,
    walk_forward_efficiency,
)
from backtesting.walkforward.models import WalkForward, WalkForwardWindow

MAX_CHART_POINTS = 1_000


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def walkforward_summary(
    walkforward: WalkForward, windows: Sequence[WalkForwardWindow], aligned: AlignedBars
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(summary numbers, the chart's curves) from the stored windows, in index order.

    Raises ValueError when no window was stored.
    """
    if not windows:
        raise ValueError("no out-of-sample window to stitch")
    cash = float(walkforward.settings.get("initial_cash", 100_000.0))
    seconds = np.concatenate([np.asarray(w.oos_equity["t"], dtype=np.int64) for w in windows])
    stitched = stitch_equity([np.asarray(w.oos_equity["v"]) for w in windows], cash)
    hold = stitch_equity([_buy_and_hold(aligned, w) for w in windows], cash)
    summary = {
        **stitched_metrics(seconds * 10**9, stitched, walkforward.settings),
        "buy_and_hold_return": float(hold[-1] / hold[0] - 1.0),
        "n_windows": len(windows),
        "n_trades": sum(int(w.oos_metrics.get("n_trades") or 0) for w in windows),
    }
    summary["in_sample_annual_return"] = _in_sample_annual(windows)
    summary["efficiency"] = _finite(
        walk_forward_efficiency(
            _nan(summary["in_sample_annual_return"]), _nan(summary["annual_return"])
        )
    )
    keep = _display_points(len(seconds))
    curve = {
        "t": seconds[keep].tolist(),
        "equity": [round(float(v), 4) for v in stitched[keep]],
        "buy_and_hold": [round(float(v), 4) for v in hold[keep]],
    }
    return summary, curve


def stitched_metrics(
    timestamps_ns: np.ndarray, equity: np.ndarray, settings: dict[str, Any]
) -> dict[str, float | None]:
    """Total return, annualised return, CAGR, Sharpe, Sortino and max drawdown of one curve."""
    returns = metrics.daily_returns(timestamps_ns, equity)
    periods = float(
        settings.get("periods_per_year") or metrics.infer_periods_per_year(timestamps_ns)
    )
    rf = float(settings.get("risk_free_rate") or 0.0)
    total = float(equity[-1] / equity[0] - 1.0)
    return {
        "total_return": _finite(total),
        "annual_return": _finite(annualize_total_return(total, len(returns), periods)),
        "cagr": _finite(
            metrics.cagr(
                float(equity[0]), float(equity[-1]), int(timestamps_ns[0]), int(timestamps_ns[-1])
            )
        ),
        "sharpe_ratio": _finite(metrics.sharpe_ratio(returns, rf, periods)),
        "sortino_ratio": _finite(metrics.sortino_ratio(returns, rf, periods)),
        "max_drawdown": _finite(metrics.max_drawdown(equity)),
        "equity_final": _finite(float(equity[-1])),
    }


def _in_sample_annual(windows: Sequence[WalkForwardWindow]) -> float | None:
    values = [w.is_metrics.get("annualized_return") for w in windows]
    finite = [float(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def _buy_and_hold(aligned: AlignedBars, window: WalkForwardWindow) -> np.ndarray:
    """Equal weights in every instrument, bought at the close of the window's first
    out-of-sample bar, valued at the same points as the stored curve (1.0 at the start)."""
    points = np.asarray(window.oos_equity["t"], dtype=np.int64) * 10**9
    index = np.searchsorted(aligned.timestamps, points)
    close = aligned.close[:, index]
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = close / close[:, :1]
    # An instrument without a price at the start (it had not begun trading) is left out.
    held = relative[np.isfinite(relative[:, 0])]
    return np.nanmean(held, axis=0) if len(held) else np.ones(len(points))


def _display_points(n: int) -> np.ndarray:
    if n <= MAX_CHART_POINTS:
        return np.arange(n)
    return np.unique(np.append(np.linspace(0, n - 1, MAX_CHART_POINTS).astype(np.int64), n - 1))
