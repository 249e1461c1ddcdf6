"""How each statistic of a backtest reads on a page: its group, label, unit and convention.

The engine's statistics (backtesting/engine/metrics.py, documented in docs/metrics.md) are a
flat dict of raw numbers: fractions for returns and rates (0.168 means +16.8 %), days for
durations, account currency for cash. This module is the one catalogue the HTML pages read
them through, so the detail page, the list and the compare page format a number the same way.

Public API (used by backtesting/views/detail.py and backtesting/views/compare.py):
- ``METRIC_GROUPS``: ordered ``MetricGroup(title, specs)``; every statistic the engine emits
  is in exactly one group, except the calendar tables in ``SERIES_KEYS`` (charts draw them).
- ``METRICS``: key -> ``MetricSpec``; ``HEADLINE_KEYS``: the keys shown as cards.
- ``format_metric(key, value, currency="USD") -> str``: "+16.85 %", "1.23", "$12,345.67",
  "41", "12.5 days"; "—" for a missing, None or non-finite value.
- ``metric_tone(key, value) -> "up" | "down" | ""``: the colour of a signed number.
- ``metric_groups_for(metrics, currency)`` and ``headline_cards_for(metrics, currency)``:
  rows ready for a template.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

# percent: a signed change (a return), shown "+16.85 %"; rate: a share of a whole (win rate,
# exposure), shown "55.00 %" without a sign; ratio: a dimensionless ratio, two decimals;
# money: account currency; count: an integer; days: a duration in days; number: any other
# plain number; date: an ISO 8601 timestamp shown as a UTC date.
Kind = Literal["percent", "rate", "ratio", "money", "count", "days", "number", "date"]
# Which way is better, in the number's own sign: a drawdown of -0.10 beats -0.20 ("higher").
Better = Literal["higher", "lower"] | None

MISSING = "—"
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


@dataclass(frozen=True)
class MetricSpec:
    key: str
    label: str
    kind: Kind
    better: Better
    convention: str


@dataclass(frozen=True)
class MetricGroup:
    title: str
    specs: tuple[MetricSpec, ...]


def _m(key: str, label: str, kind: Kind, better: Better, convention: str) -> MetricSpec:
    return MetricSpec(key, label, kind, better, convention)


_DAILY = "from daily returns (the last equity of each UTC day)"

METRIC_GROUPS: tuple[MetricGroup, ...] = (
    MetricGroup("Returns", (
        _m("total_return", "Total return", "percent", "higher",
           "Final equity over starting equity, minus 1."),
        _m("cagr", "CAGR", "percent", "higher",
           "Compound annual growth over calendar time (years of 365.25 days); -100 % once equity "
           "is gone."),
        _m("annualized_return", "Annualized return", "percent", "higher",
           f"Compounded daily returns scaled to a year of trading periods, {_DAILY}."),
        _m("buy_and_hold_return", "Buy & hold return", "percent", None,
           "What holding the benchmark (the first instrument unless another is set) earned over "
           "the run."),
        _m("alpha", "Alpha", "percent", "higher",
           "Annualised return not explained by the benchmark: (1 + mean(excess - beta x "
           "benchmark excess))^P - 1."),
        _m("equity_start", "Starting equity", "money", None,
           "Mark-to-market equity at the first bar."),
        _m("equity_final", "Final equity", "money", "higher",
           "Mark-to-market equity (cash plus marked positions) at the last bar."),
        _m("equity_peak", "Peak equity", "money", "higher",
           "Highest mark-to-market equity at any bar."),
    )),
    MetricGroup("Risk", (
        _m("max_drawdown", "Max drawdown", "percent", "higher",
           "Deepest fall of per-bar equity below its running peak (-20 % = 20 % under the peak)."),
        _m("avg_drawdown", "Average drawdown", "percent", "higher",
           "Mean depth of all drawdown episodes; 0 if equity never fell under a peak."),
        _m("max_drawdown_duration_days", "Longest drawdown", "days", "lower",
           "Longest time from a peak to the first bar back at or above it (or to the end)."),
        _m("avg_drawdown_duration_days", "Average drawdown duration", "days", "lower",
           "Mean duration of the drawdown episodes, peak to recovery."),
        _m("n_drawdowns", "Drawdowns", "count", "lower",
           "Number of drawdown episodes (maximal runs of bars under the running peak)."),
        _m("annualized_volatility", "Annualized volatility", "rate", "lower",
           f"Sample standard deviation of daily returns times the square root of P, {_DAILY}."),
        _m("sharpe_ratio", "Sharpe ratio", "ratio", "higher",
           "Mean daily excess return over its sample standard deviation, times the square root "
           "of P (252, or 365 with weekend bars)."),
        _m("sortino_ratio", "Sortino ratio", "ratio", "higher",
           "Mean daily excess return over the downside deviation (averaged over all days), times "
           "the square root of P."),
        _m("calmar_ratio", "Calmar ratio", "ratio", "higher",
           "Annualized return over the absolute max drawdown."),
        _m("probabilistic_sharpe_ratio", "Probabilistic Sharpe", "rate", "higher",
           "Probability that the true Sharpe ratio is above 0, given skew and kurtosis (Bailey & "
           "Lopez de Prado)."),
        _m("var_95", "Daily VaR 95 %", "percent", "higher",
           "Historical 5 % quantile of daily returns; a loss is negative."),
        _m("cvar_95", "Daily CVaR 95 %", "percent", "higher",
           "Mean of the worst 5 % of daily returns (expected shortfall)."),
        _m("beta", "Beta", "ratio", None,
           "Covariance of daily excess returns with the benchmark's, over the benchmark's "
           "variance."),
    )),
    MetricGroup("Trades", (
        _m("n_trades", "Trades", "count", None,
           "Number of counted trades (closed ones, unless open trades are counted)."),
        _m("win_rate", "Win rate", "rate", "higher",
           "Share of trades with a positive P&L (costs included); break-even trades count in the "
           "total."),
        _m("loss_rate", "Loss rate", "rate", "lower",
           "Share of trades with a negative P&L."),
        _m("n_wins", "Winning trades", "count", None, "Trades with P&L above 0."),
        _m("n_losses", "Losing trades", "count", None, "Trades with P&L below 0."),
        _m("n_breakeven", "Break-even trades", "count", None, "Trades with P&L exactly 0."),
        _m("profit_factor", "Profit factor", "ratio", "higher",
           "Gross cash profit of wins over gross cash loss of losses; undefined without losses."),
        _m("expectancy", "Expectancy", "money", "higher",
           "Mean cash P&L per trade, costs included."),
        _m("expectancy_return", "Expectancy (return)", "percent", "higher",
           "Mean return per trade, as a fraction of its entry notional."),
        _m("avg_trade_return", "Average trade return", "percent", "higher",
           "Arithmetic mean of the trades' returns on entry notional."),
        _m("best_trade", "Best trade", "percent", "higher", "Highest single-trade return."),
        _m("worst_trade", "Worst trade", "percent", "higher", "Lowest single-trade return."),
        _m("avg_win", "Average win", "money", "higher", "Mean cash P&L of the winning trades."),
        _m("avg_loss", "Average loss", "money", "higher",
           "Mean cash P&L of the losing trades (negative)."),
        _m("avg_win_return", "Average win (return)", "percent", "higher",
           "Mean return of the winning trades."),
        _m("avg_loss_return", "Average loss (return)", "percent", "higher",
           "Mean return of the losing trades (negative)."),
        _m("sqn", "SQN", "ratio", "higher",
           "Van Tharp's System Quality Number: square root of n times mean cash P&L over its "
           "standard deviation."),
        _m("kelly_criterion", "Kelly criterion", "rate", "higher",
           "Win share minus loss share over the win/loss return ratio: the growth-optimal "
           "fraction to risk."),
        _m("max_consecutive_wins", "Most wins in a row", "count", "higher",
           "Longest streak of winning trades; a break-even trade ends it."),
        _m("max_consecutive_losses", "Most losses in a row", "count", "lower",
           "Longest streak of losing trades; a break-even trade ends it."),
        _m("avg_trade_bars", "Average bars held", "number", None,
           "Mean number of bars between a trade's entry and exit."),
        _m("max_trade_bars", "Most bars held", "count", None,
           "Longest trade, in bars."),
        _m("avg_trade_duration_days", "Average trade duration", "days", None,
           "Mean time between entry and exit."),
        _m("max_trade_duration_days", "Longest trade", "days", None,
           "Longest time between entry and exit."),
    )),
    MetricGroup("Exposure", (
        _m("exposure_time", "Time in market", "rate", None,
           "Share of bars with any position open."),
        _m("average_exposure", "Average exposure", "rate", None,
           "Mean fraction of equity held in positions over all bars (sign ignored)."),
    )),
    MetricGroup("Period", (
        _m("start", "First bar", "date", None, "Time of the first evaluated bar (UTC)."),
        _m("end", "Last bar", "date", None, "Time of the last evaluated bar (UTC)."),
        _m("duration_days", "Duration", "days", None, "Time from the first to the last bar."),
        _m("n_bars", "Bars", "count", None, "Number of evaluated bars."),
        _m("n_days", "Days with bars", "count", None, "Number of distinct UTC days with bars."),
        _m("periods_per_year", "Periods per year", "number", None,
           "P used to annualise: 365 when any bar falls on a Saturday, otherwise 252, unless set."),
        _m("risk_free_rate", "Risk-free rate", "rate", None,
           "Annual risk-free rate subtracted from returns in Sharpe, Sortino and alpha."),
    )),
)  # fmt: skip

# Calendar tables the engine also returns: lists, drawn by the charts, not formatted here.
SERIES_KEYS = frozenset({"monthly_returns", "yearly_returns"})

METRICS: dict[str, MetricSpec] = {s.key: s for g in METRIC_GROUPS for s in g.specs}

HEADLINE_KEYS: tuple[str, ...] = (
    "total_return", "cagr", "sharpe_ratio", "sortino_ratio", "max_drawdown", "win_rate",
    "profit_factor", "n_trades", "exposure_time",
)  # fmt: skip

# A headline compared with what buy-and-hold did, where the result stores that number.
BENCHMARK_OF: dict[str, str] = {"total_return": "buy_and_hold_return"}


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _signed(text: str, negative: bool, sign: bool) -> str:
    if negative:
        return f"-{text}"
    return f"+{text}" if sign else text


def format_money(value: Any, currency: str = "USD") -> str:
    """1234.5 -> "$1,234.50"; -3 -> "-$3.00"; a currency without a symbol: "1,234.50 CHF"."""
    f = _finite(value)
    if f is None:
        return MISSING
    amount = f"{abs(f):,.2f}"
    symbol = CURRENCY_SYMBOLS.get(currency.upper())
    text = f"{symbol}{amount}" if symbol else f"{amount} {currency.upper()}"
    return _signed(text, f < 0 and amount != "0.00", sign=False)


def _format_date(value: Any) -> str:
    if not isinstance(value, str):
        return MISSING
    try:
        return datetime.fromisoformat(value).strftime("%Y-%m-%d")
    except ValueError:
        return value


def _format_number(kind: Kind, f: float, currency: str) -> str:
    if kind in ("percent", "rate"):
        text = f"{abs(f) * 100:,.2f}"
        # A change that rounds to zero gets no sign: "+0.00 %" reads as a gain.
        moved = text != "0.00"
        return _signed(f"{text} %", f < 0 and moved, sign=kind == "percent" and moved)
    if kind == "money":
        return format_money(f, currency)
    if kind == "count":
        return f"{round(f):,}"
    if kind == "days":
        days = f"{f:,.1f}".removesuffix(".0")
        return f"{days} day" if days == "1" else f"{days} days"
    if kind == "ratio":
        return f"{f:,.2f}"
    return f"{f:,.2f}".rstrip("0").rstrip(".") or "0"


def format_metric(key: str, value: Any, currency: str = "USD") -> str:
    """One statistic as people read it; "—" for None, NaN, infinity or a non-number.

    An unknown key is shown as a plain number, so a metric added to the engine before this
    catalogue still renders (the test of the catalogue makes sure it is added here).
    """
    spec = METRICS.get(key)
    kind: Kind = spec.kind if spec else "number"
    if kind == "date":
        return _format_date(value)
    f = _finite(value)
    if f is None:
        return MISSING
    return _format_number(kind, f, currency)


def metric_tone(key: str, value: Any) -> str:
    """ "up" or "down" for a signed return (percent or money) that moved; "" otherwise."""
    spec = METRICS.get(key)
    f = _finite(value)
    if spec is None or f is None or f == 0 or spec.kind not in ("percent", "money"):
        return ""
    if spec.key.startswith("equity_"):
        return ""  # levels, not changes
    return "up" if f > 0 else "down"


@dataclass(frozen=True)
class MetricRow:
    spec: MetricSpec
    value: Any
    display: str
    tone: str


@dataclass(frozen=True)
class MetricGroupRows:
    title: str
    rows: tuple[MetricRow, ...]


@dataclass(frozen=True)
class HeadlineCard:
    row: MetricRow
    benchmark: MetricRow | None  # buy-and-hold's number for the same measure, if stored


def metric_row(key: str, metrics: dict[str, Any], currency: str = "USD") -> MetricRow:
    value = metrics.get(key)
    return MetricRow(
        METRICS[key], value, format_metric(key, value, currency), metric_tone(key, value)
    )


def metric_groups_for(metrics: dict[str, Any], currency: str = "USD") -> list[MetricGroupRows]:
    """Every catalogued metric of a result, grouped; keys the catalogue lacks go in "Other"."""
    groups = [
        MetricGroupRows(g.title, tuple(metric_row(s.key, metrics, currency) for s in g.specs))
        for g in METRIC_GROUPS
    ]
    unknown = sorted(k for k in metrics if k not in METRICS and k not in SERIES_KEYS)
    if unknown:
        rows = tuple(
            MetricRow(MetricSpec(k, k, "number", None, ""), metrics[k],
                      format_metric(k, metrics[k], currency), "")
            for k in unknown
        )  # fmt: skip
        groups.append(MetricGroupRows("Other", rows))
    return groups


def buy_and_hold_cagr(metrics: dict[str, Any]) -> float | None:
    """Buy-and-hold's CAGR over the same calendar time as the strategy's `cagr`.

    Derived from the stored `buy_and_hold_return` and `duration_days` with cagr's own
    convention (years of 365.25 days; -100 % once the benchmark is worthless).
    """
    bh, days = _finite(metrics.get("buy_and_hold_return")), _finite(metrics.get("duration_days"))
    if bh is None or days is None or days <= 0:
        return None
    if bh <= -1:
        return -1.0
    return float((1 + bh) ** (365.25 / days) - 1)


def _benchmark_row(key: str, metrics: dict[str, Any], currency: str) -> MetricRow | None:
    if key == "cagr":
        value = buy_and_hold_cagr(metrics)
        if value is None:
            return None
        return MetricRow(METRICS["cagr"], value, format_metric("cagr", value, currency),
                         metric_tone("cagr", value))  # fmt: skip
    bench_key = BENCHMARK_OF.get(key)
    if bench_key is None or _finite(metrics.get(bench_key)) is None:
        return None
    return metric_row(bench_key, metrics, currency)


def headline_cards_for(metrics: dict[str, Any], currency: str = "USD") -> list[HeadlineCard]:
    """The cards of HEADLINE_KEYS; total return and CAGR carry buy-and-hold's number."""
    return [
        HeadlineCard(metric_row(key, metrics, currency), _benchmark_row(key, metrics, currency))
        for key in HEADLINE_KEYS
    ]
