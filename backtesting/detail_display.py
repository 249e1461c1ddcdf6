"""What the backtest detail page says about a run besides its metrics: settings, timing, errors.

Pure functions of a Backtest row (no queries of their own), so the view stays thin and each
piece is testable alone. Numbers go through backtesting.metric_display's formatting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backtesting.metric_display import MISSING, format_money
from backtesting.models import Backtest

_USER_LINE = re.compile(r"^line (\d+), in ")
EXCERPT_CONTEXT = 3  # lines shown above and below the failing one


@dataclass(frozen=True)
class CodeLine:
    number: int
    text: str
    failing: bool


def _percent(value: Any, digits: int = 2) -> str:
    return f"{float(value) * 100:.{digits}f} %" if isinstance(value, int | float) else MISSING


def _bps(value: Any) -> str:
    return f"{float(value):g} bps" if isinstance(value, int | float) else MISSING


def _yes_no(value: Any) -> str:
    return "yes" if value else "no"


def _commission(costs: dict[str, Any]) -> str:
    pct, fixed, minimum = (costs.get(k) or 0 for k in ("commission_pct", "commission_fixed",
                                                       "commission_min"))  # fmt: skip
    if not (pct or fixed or minimum):
        return "none"
    parts = [_percent(pct, 3) + " of notional"]
    if fixed:
        parts.append(f"+ {format_money(fixed)} per fill")
    if minimum:
        parts.append(f"(at least {format_money(minimum)})")
    return " ".join(parts)


def run_settings_facts(backtest: Backtest) -> list[tuple[str, str]]:
    """(label, value) pairs of the run's inputs, in the order a trader checks them."""
    s: dict[str, Any] = backtest.settings or {}
    costs: dict[str, Any] = s.get("costs") or {}
    symbols = list(backtest.symbols)
    benchmark = s.get("benchmark") or (f"{symbols[0]} (buy and hold)" if symbols else MISSING)
    lot = s.get("lot_size")
    sizing = "fractional units" if s.get("fractional_units") else "whole units"
    if lot:
        sizing += f", lots of {lot:g}"
    facts = [
        ("Instruments", ", ".join(symbols) or MISSING),
        ("Timeframe", backtest.timeframe),
        ("Range", f"{backtest.start:%Y-%m-%d} to {backtest.end:%Y-%m-%d}"),
        ("Initial cash", format_money(s.get("initial_cash"))),
        ("Commission", _commission(costs)),
        ("Slippage", _bps(costs.get("slippage_bps", 0)) + " per fill"),
        ("Spread", _bps(costs.get("spread_bps", 0)) + " (half paid per fill)"),
        ("Sizing", sizing),
        ("Short selling", "allowed" if s.get("allow_short") else "not allowed"),
        ("Fills", str(s.get("fill_mode", "next_open")).replace("_", " ")),
        ("Benchmark", benchmark),
        ("Risk-free rate", _percent(s.get("risk_free_rate", 0.0)) + " a year"),
        ("Count open trades", _yes_no(s.get("count_open_trades"))),
    ]
    if s.get("warmup_bars") is not None:
        facts.append(("Warm-up bars", str(s["warmup_bars"])))
    if s.get("borrow_rate_annual"):
        facts.append(("Borrow rate", _percent(s["borrow_rate_annual"]) + " a year"))
    return facts


def _duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return MISSING
    seconds = max((end - start).total_seconds(), 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s"


def timing_facts(backtest: Backtest) -> list[tuple[str, str]]:
    """When the run was queued, started and finished, and where its time went."""
    facts = [
        ("Queued", f"{backtest.queued_at:%Y-%m-%d %H:%M:%S} UTC"),
        ("Waited in queue", _duration(backtest.queued_at, backtest.started_at)),
        ("Ran for", _duration(backtest.started_at, backtest.finished_at)),
    ]
    if backtest.finished_at:
        facts.append(("Finished", f"{backtest.finished_at:%Y-%m-%d %H:%M:%S} UTC"))
    if backtest.bars_processed:
        facts.append(("Bars processed", f"{backtest.bars_processed:,}"))
    phases = {"data_load_ms": "Loading data", "sandbox_ms": "Strategy run", "write_ms": "Storing"}
    for key, label in phases.items():
        value = backtest.timings.get(key) if backtest.status == "succeeded" else None
        if isinstance(value, int | float):
            facts.append((label, f"{value:,.0f} ms"))
    return facts


def failing_line(error_details: dict[str, Any] | None) -> int | None:
    """The line of the user's code the error points at: the innermost user frame, or the
    first validator problem (syntax errors, forbidden constructs). None when there is none."""
    details = error_details or {}
    for entry in reversed(details.get("traceback") or []):
        match = _USER_LINE.match(str(entry))
        if match:
            return int(match.group(1))
    for problem in details.get("problems") or []:
        line = problem.get("line") if isinstance(problem, dict) else None
        if isinstance(line, int) and line > 0:
            return line
    return None


def code_excerpt(code: str, line: int, context: int = EXCERPT_CONTEXT) -> list[CodeLine]:
    """The lines around `line` (1-based) of `code`; [] when the line is not in the code."""
    lines = code.splitlines()
    if not 1 <= line <= len(lines):
        return []
    first, last = max(line - context, 1), min(line + context, len(lines))
    return [CodeLine(n, lines[n - 1], n == line) for n in range(first, last + 1)]


def status_payload(backtest: Backtest) -> dict[str, Any]:
    """What the detail page's live status polls: small, and enough to know when to reload."""
    return {
        "id": backtest.pk,
        "status": backtest.status,
        "status_label": backtest.get_status_display(),
        "progress": round(float(backtest.progress), 4),
        "finished": backtest.is_finished,
        "error_code": backtest.error_code,
        "error_message": backtest.error_message,
        "started_at": backtest.started_at.isoformat() if backtest.started_at else None,
        "finished_at": backtest.finished_at.isoformat() if backtest.finished_at else None,
    }
