"""The look-ahead check: does the strategy decide differently once the future is removed?

The strategy version runs once on the backtest's bars and once on the bars truncated after
each of K sampled bars (seeded). An honest strategy places exactly the same orders at every bar
up to the cut, since it could only ever see those bars. One that computes from the whole series
in `init()` (a future maximum, a normalisation over all closes) places different ones: every
bar where that happens is reported, with both decisions. Progressive reveal cannot catch this,
because `init()` runs before the first bar, on everything it is given.

Each run is a normal sandboxed run (a fresh jailed child): the code is the user's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from backtesting.engine.bars import BarSeries, align_bars
from backtesting.engine.result import iso_times
from backtesting.robustness.compute import Progress

RunStrategy = Callable[[Mapping[str, BarSeries]], dict[str, Any]]  # bars -> sandbox result

MAX_REPORTED = 200  # changed bars kept in the result (the count is always complete)
# What an order's decision is: when, what and how much was asked, not how it filled (a fill
# needs the next bar, which a truncated run does not have).
DECISION_FIELDS = (
    "symbol",
    "side",
    "kind",
    "units",
    "fraction",
    "value",
    "limit",
    "stop",
    "sl",
    "tp",
    "trail",
    "tag",
)


def truncation_points(n_bars: int, first_bar: int, k: int, seed: int) -> list[int]:
    """Up to `k` distinct bar indices in [lo, n_bars - 2], sorted: the last bar of each cut.

    `lo` skips the first fifth of the series (and any bar before every symbol has started),
    where a strategy is usually still warming up and a cut tells little.
    """
    lo, hi = max(first_bar, n_bars // 5), n_bars - 2
    if hi < lo:
        return []
    rng = np.random.default_rng(seed)
    count = min(k, hi - lo + 1)
    return sorted(int(i) for i in rng.choice(np.arange(lo, hi + 1), size=count, replace=False))


def truncate(bars: Mapping[str, BarSeries], last_ns: int) -> dict[str, BarSeries]:
    """Each series up to and including `last_ns`."""
    out = {}
    for symbol, s in bars.items():
        keep = s.timestamps <= last_ns
        out[symbol] = BarSeries(
            symbol,
            s.timestamps[keep],
            s.open[keep],
            s.high[keep],
            s.low[keep],
            s.close[keep],
            s.volume[keep],
        )
    return out


def decisions_by_time(orders: list[dict[str, Any]], until: str) -> dict[str, list[str]]:
    """{placed_time: sorted order descriptions} for orders placed at or before `until` (ISO)."""
    by_time: dict[str, list[str]] = {}
    for order in orders:
        placed = order["placed_time"]
        if placed <= until:  # ISO-8601 UTC text of one format sorts as time does
            by_time.setdefault(placed, []).append(_describe(order))
    return {t: sorted(d) for t, d in by_time.items()}


def _describe(order: dict[str, Any]) -> str:
    parts = [f"{order['side']} {order['symbol']} {order['kind']}"]
    for name in DECISION_FIELDS[3:]:
        if order.get(name) not in (None, ""):
            parts.append(f"{name}={order[name]}")
    return " ".join(parts)


def lookahead_check(
    bars: Mapping[str, BarSeries],
    run: RunStrategy,
    *,
    n_checks: int,
    seed: int,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the full series and K truncations; return every bar whose decisions changed.

    Raises whatever `run` raises (a SandboxError when the user's code fails).
    """
    aligned = align_bars(dict(bars))
    first_bar = int(np.max(np.argmax(aligned.has_bar, axis=1)))
    points = truncation_points(aligned.n_bars, first_bar, n_checks, seed)
    full_orders = run(bars)["orders"]
    changes: dict[str, dict[str, Any]] = {}
    checks = []
    for i, point in enumerate(points):
        cut_ns = int(aligned.timestamps[point])
        result = run(truncate(bars, cut_ns))
        until = _iso(cut_ns)
        full = decisions_by_time(full_orders, until)
        cut = decisions_by_time(result["orders"], until)
        changed = sorted(t for t in set(full) | set(cut) if full.get(t) != cut.get(t))
        checks.append({"truncated_at": until, "bar": point, "changed_bars": len(changed)})
        for t in changed:
            changes.setdefault(
                t,
                {
                    "bar_time": t,
                    "truncated_at": until,
                    "full_run": full.get(t, []),
                    "truncated_run": cut.get(t, []),
                },
            )
        if progress:
            progress((i + 1) / max(len(points), 1))
    ordered = [changes[t] for t in sorted(changes)]
    return {
        "n_checks": len(points),
        "n_bars": aligned.n_bars,
        "changed_count": len(ordered),
        "changes": ordered[:MAX_REPORTED],
        "checks": checks,
    }


def _iso(ns: int) -> str:
    return iso_times(np.array([ns], dtype=np.int64))[0]
