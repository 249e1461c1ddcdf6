"""The compact result of one combination in a batch: the headline metrics, nothing else.

Shared by the child (which picks them from the engine's statistics) and the worker (which
checks them), so both sides agree on the keys. A sweep ranks and filters combinations by
these; the full result (trades, curves, every statistic) comes from a normal backtest of the
chosen combination.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

# Keys of backtesting.engine.metrics.compute_statistics, as the engine computes them: the
# ones its headline mode (full=False) returns, metrics.HEADLINE_STATISTICS. They
# cover every objective a sweep offers (return over max drawdown is total_return over
# |max_drawdown|) and the inputs of its filters (n_trades) and of the deflated Sharpe ratio
# (sharpe_ratio of every trial, n_days).
HEADLINE_METRICS: Final = (
    "total_return",
    "cagr",
    "annualized_return",
    "annualized_volatility",
    "sharpe_ratio",
    "sortino_ratio",
    "calmar_ratio",
    "probabilistic_sharpe_ratio",
    "max_drawdown",
    "max_drawdown_duration_days",
    "profit_factor",
    "win_rate",
    "n_trades",
    "expectancy_return",
    "sqn",
    "exposure_time",
    "average_exposure",
    "equity_final",
    "buy_and_hold_return",
    "n_days",
)
COUNT_METRICS: Final = frozenset({"n_trades", "n_days"})
# One item on the pipe: the metrics are ~1 KB; an error item carries a message of at most
# 2,000 characters (up to 6 bytes each once JSON-escaped) and 20 traceback lines of 200.
MAX_ITEM_BYTES: Final = 48 * 1024

Metrics = dict[str, float | int | None]


def compact_metrics(statistics: Mapping[str, Any]) -> Metrics:
    """The headline metrics out of a result's statistics (already NaN-free: None)."""
    return {key: statistics.get(key) for key in HEADLINE_METRICS}


def metrics_valid(metrics: Any) -> bool:
    """Exactly the headline keys; counts are ints, the rest finite numbers or None."""
    if not isinstance(metrics, dict) or set(metrics) != set(HEADLINE_METRICS):
        return False
    return all(_value_valid(key, value) for key, value in metrics.items())


def _value_valid(key: str, value: Any) -> bool:
    if value is None:
        return key not in COUNT_METRICS
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if key in COUNT_METRICS:
        return isinstance(value, int) and 0 <= value < 2**31
    return math.isfinite(value)
