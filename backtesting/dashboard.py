"""Reads for the dashboard a signed-in user lands on (`/`): a handful of queries, whatever the
number of backtests, strategies or bars.

    dashboard_for(user) -> Dashboard
        recent backtests with their headline metrics (2 queries), recent strategies (1 query)
        and the market-data coverage at a glance (1 query).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import OuterRef, Subquery

from backtesting import metric_display, selectors
from backtesting.marketdata.models import Bar, SeriesVersion
from backtesting.marketdata.timeframes import Timeframe
from backtesting.models import Backtest
from strategies.library import ExampleStrategy, example_list
from strategies.models import Strategy

RECENT_BACKTESTS = 8
RECENT_STRATEGIES = 6
HEADLINE_METRICS = ("total_return", "sharpe_ratio", "max_drawdown")


@dataclass(frozen=True)
class HeadlineMetric:
    key: str
    display: str  # "+16.85 %", "1.23", "-8.10 %" or "—"
    tone: str  # "up", "down" or ""


@dataclass(frozen=True)
class BacktestRow:
    backtest: Backtest
    metrics: list[HeadlineMetric]  # in HEADLINE_METRICS order; "—" until it has succeeded


@dataclass(frozen=True)
class DataCoverage:
    """What market data can be backtested on: series that hold at least one bar."""

    instrument_count: int
    timeframes: list[Timeframe]  # finest first
    first: datetime | None
    last: datetime | None

    @property
    def has_data(self) -> bool:
        return self.instrument_count > 0


@dataclass(frozen=True)
class Dashboard:
    backtests: list[BacktestRow]
    strategies: list[Strategy]
    coverage: DataCoverage
    examples: tuple[ExampleStrategy, ...]

    @property
    def is_new_user(self) -> bool:
        """No backtest yet: the page shows the three steps (pick a template, run it, read it)."""
        return not self.backtests


def dashboard_for(user: Any) -> Dashboard:
    """The user's own recent work (never another user's, operators included) and the data."""
    return Dashboard(
        backtests=recent_backtests(user),
        strategies=recent_strategies(user),
        coverage=data_coverage(),
        examples=example_list(),
    )


def recent_backtests(user: Any, limit: int = RECENT_BACKTESTS) -> list[BacktestRow]:
    backtests = list(selectors.backtest_list(user=user)[:limit])
    headline = selectors.backtest_headline_metrics(
        backtest_ids=[bt.pk for bt in backtests], keys=HEADLINE_METRICS
    )
    return [_backtest_row(bt, headline.get(bt.pk, {})) for bt in backtests]


def _backtest_row(backtest: Backtest, values: dict[str, Any]) -> BacktestRow:
    metrics = [
        HeadlineMetric(
            key=key,
            display=metric_display.format_metric(key, values.get(key)),
            tone=metric_display.metric_tone(key, values.get(key)),
        )
        for key in HEADLINE_METRICS
    ]
    return BacktestRow(backtest=backtest, metrics=metrics)


def recent_strategies(user: Any, limit: int = RECENT_STRATEGIES) -> list[Strategy]:
    """The user's own active strategies, most recently changed first, with their latest
    version number (annotated: no query per row)."""
    return list(
        Strategy.objects.owned_by(user)
        .active()
        .with_latest_version_number()
        .order_by("-updated_at", "-id")[:limit]
    )


def data_coverage() -> DataCoverage:
    """Instruments, timeframes and the first and last bar of every stored series, in ONE query.

    One row per stored series (a handful per instrument), its ends read by index seeks on the
    bars' unique (instrument, timeframe, timestamp) index: no scan of the bars, however many.
    """
    bars = Bar.objects.filter(instrument=OuterRef("instrument"), timeframe=OuterRef("timeframe"))
    rows = (
        SeriesVersion.objects.filter(instrument__is_active=True)
        .annotate(
            first=Subquery(bars.order_by("timestamp").values("timestamp")[:1]),
            last=Subquery(bars.order_by("-timestamp").values("timestamp")[:1]),
        )
        .values_list("instrument_id", "timeframe", "first", "last")
    )
    series = [(pk, tf, first, last) for pk, tf, first, last in rows if first is not None]
    timeframes = sorted({Timeframe(tf) for _, tf, _, _ in series}, key=lambda t: t.nanoseconds)
    return DataCoverage(
        instrument_count=len({pk for pk, _, _, _ in series}),
        timeframes=timeframes,
        first=min((first for _, _, first, _ in series), default=None),
        last=max((last for _, _, _, last in series), default=None),
    )
