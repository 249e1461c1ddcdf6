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


_KEYS: Final = frozenset(HEADLINE_METRICS)
_OTHER_METRICS: Final = tuple(key for key in HEADLINE_METRICS if key not in COUNT_METRICS)
_INT_BOUND: Final = 2**63  # past it an int is no metric (and math.isfinite would raise)


def metrics_valid(metrics: Any) -> bool:
    """Exactly the headline keys; counts are ints, the rest finite numbers or None.

    Called for every combination a worker receives (250 a chunk on minute bars): exact type
    checks in one pass, as JSON only ever yields dict, int, float, str, bool and None.
    """
    if type(metrics) is not dict or metrics.keys() != _KEYS:
        return False
    for key in COUNT_METRICS:
        value = metrics[key]
        if type(value) is not int or not 0 <= value < 2**31:
            return False
    for key in _OTHER_METRICS:
        value = metrics[key]
        kind = type(value)
        if kind is float:
            if not math.isfinite(value):
                return False
        elif kind is int:
            if not -_INT_BOUND < value < _INT_BOUND:
                return False
        elif value is not None:
            return False
    return True
