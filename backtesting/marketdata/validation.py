"""The import rules: which parsed rows are valid bars, and where the series has gaps. Django-free.

Checks are vectorised over the whole file so that a million-row file validates in well under
a second; each failure is mapped back to its line number for the report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backtesting.engine.sessions import local_days
from backtesting.marketdata.csvformat import ParsedBars, Problem
from backtesting.marketdata.timeframes import DAY_NS, Timeframe

# How many bars may be missing between two consecutive bars of one trading day (intraday) or
# between two sessions (daily: weekdays; weekly: weeks) before we call it a gap. Four missing
# sessions is the longest real market closure in the demo data (NYSE, 11-14 September 2001).
DEFAULT_MAX_MISSING = {
    Timeframe.M1: 30,
    Timeframe.M5: 12,
    Timeframe.M15: 8,
    Timeframe.H1: 4,
    Timeframe.H4: 2,
    Timeframe.D1: 4,
    Timeframe.W1: 1,
}


@dataclass(frozen=True)
class SeriesRules:
    timeframe: Timeframe
    tz_name: str
    trades_every_day: bool  # crypto: weekends are trading days and sessions never close
    max_missing: int


@dataclass
class Validated:
    valid: np.ndarray  # bool mask over the parsed rows
    rejected: list[Problem]
    gaps: list[Problem]


def validate_bars(parsed: ParsedBars, rules: SeriesRules) -> Validated:
    """Apply every row rule, then the ordering rules, then the gap rule on what survives."""
    rejected: list[Problem] = []
    valid = _check_prices(parsed, rejected)
    valid &= _check_order(parsed, valid, rejected)
    rejected.sort(key=lambda p: p.line or 0)
    gaps = find_gaps(parsed.timestamps[valid], parsed.lines[valid], rules)
    return Validated(valid=valid, rejected=rejected, gaps=gaps)


def _check_prices(parsed: ParsedBars, rejected: list[Problem]) -> np.ndarray:
    o, h, low, c, v = parsed.open, parsed.high, parsed.low, parsed.close, parsed.volume
    finite = np.isfinite(o) & np.isfinite(h) & np.isfinite(low) & np.isfinite(c)
    rules = [
        (~finite, "parse_error", "prices are not finite numbers (adjusted close without a close?)"),
        (
            finite & ((o <= 0) | (h <= 0) | (low <= 0) | (c <= 0)),
            "nonpositive_price",
            "prices must be greater than zero",
        ),
        (
            finite & ((low > np.minimum(o, c)) | (h < np.maximum(o, c)) | (low > h)),
            "ohlc_inconsistent",
            "needs low <= open, close <= high",
        ),
        (v < 0, "negative_volume", "volume must not be negative"),
    ]
    valid = np.ones(o.shape, dtype=bool)
    for bad, code, message in rules:
        bad &= valid  # one problem per row: the first rule it breaks
        for i in np.flatnonzero(bad):
            detail = f"open={o[i]:g} high={h[i]:g} low={low[i]:g} close={c[i]:g} volume={v[i]:g}"
            rejected.append(Problem(int(parsed.lines[i]), code, f"{message} ({detail})"))
        valid &= ~bad
    return valid


def _check_order(parsed: ParsedBars, valid: np.ndarray, rejected: list[Problem]) -> np.ndarray:
    """Each bar must come strictly after every earlier valid bar; the later row is the one rejected.

    A rejected row never raises the running maximum (it is <= it), so one cumulative max over
    the valid rows gives exactly the rows a sequential check would reject.
    """
    ok = np.ones(valid.shape, dtype=bool)
    idx = np.flatnonzero(valid)
    if idx.size < 2:
        return ok
    ts = parsed.timestamps[idx]
    previous_max = np.maximum.accumulate(ts)[:-1]
    for pos in np.flatnonzero(ts[1:] <= previous_max) + 1:
        row = idx[pos]
        duplicate = bool(np.any(ts[:pos] == ts[pos]))
        code = "duplicate_timestamp" if duplicate else "unsorted_timestamp"
        word = "repeats an earlier" if duplicate else "is earlier than a previous"
        rejected.append(Problem(int(parsed.lines[row]), code, f"timestamp {word} row's timestamp"))
        ok[row] = False
    return ok


def find_gaps(timestamps: np.ndarray, lines: np.ndarray, rules: SeriesRules) -> list[Problem]:
    """Pairs of consecutive bars with more than `max_missing` trading-time bars missing between."""
    if timestamps.size < 2:
        return []
    missing = _missing_between(timestamps, rules)
    problems = []
    for i in np.flatnonzero(missing > rules.max_missing):
        problems.append(
            Problem(
                int(lines[i + 1]),
                "gap",
                f"{int(missing[i])} {rules.timeframe.value} bar(s) missing before this row "
                f"(at most {rules.max_missing} allowed)",
            )
        )
    return problems


def _missing_between(ts: np.ndarray, rules: SeriesRules) -> np.ndarray:
    tf = rules.timeframe
    if tf is Timeframe.W1:
        return np.diff(ts) // tf.nanoseconds - 1
    if tf is Timeframe.D1:
        days = (ts // DAY_NS).astype("datetime64[D]")
        if rules.trades_every_day:
            return np.diff(ts // DAY_NS) - 1
        return np.busday_count(days[:-1] + 1, days[1:]).astype(np.int64)
    missing = np.diff(ts) // tf.nanoseconds - 1
    if not rules.trades_every_day:
        # Overnight and weekend closures are not gaps: only compare bars of the same local day.
        day = local_days(ts, rules.tz_name)
        missing = np.where(day[1:] == day[:-1], missing, 0)
    return missing
