"""data_report's reads: coverage, gaps and suspicious jumps per instrument and timeframe."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from backtesting.marketdata.models import AssetClass, Instrument, SeriesVersion
from backtesting.marketdata.selectors import bars_load_arrays
from backtesting.marketdata.timeframes import Timeframe
from backtesting.marketdata.validation import DEFAULT_MAX_MISSING, SeriesRules, find_gaps
from backtesting.marketdata.writes import ns_to_datetime


@dataclass
class SeriesReport:
    symbol: str
    timeframe: str
    bars: int
    first: datetime | None
    last: datetime | None
    version: int
    updated_at: datetime
    gaps: list[str] = field(default_factory=list)
    jumps: list[str] = field(default_factory=list)


def series_reports(
    symbol: str | None = None, *, jump_threshold: float = 0.25
) -> list[SeriesReport]:
    """One report per stored series (of `symbol`, or of every instrument).

    A jump is a close-to-close move whose absolute log return exceeds log(1 + jump_threshold):
    often a split in unadjusted data or a bad tick, worth a look either way.
    """
    versions = SeriesVersion.objects.select_related("instrument").order_by(
        "instrument__symbol", "timeframe"
    )
    if symbol:
        versions = versions.filter(instrument__symbol=symbol.strip().upper())
    return [_series_report(v, jump_threshold) for v in versions]


def _series_report(version: SeriesVersion, jump_threshold: float) -> SeriesReport:
    instrument: Instrument = version.instrument
    tf = Timeframe(version.timeframe)
    bars = bars_load_arrays(instrument.symbol, tf)
    report = SeriesReport(
        symbol=instrument.symbol,
        timeframe=tf.value,
        bars=len(bars),
        first=ns_to_datetime(int(bars.timestamps[0])) if len(bars) else None,
        last=ns_to_datetime(int(bars.timestamps[-1])) if len(bars) else None,
        version=version.version,
        updated_at=version.updated_at,
    )
    if len(bars) < 2:
        return report
    rules = SeriesRules(
        tf,
        instrument.timezone,
        instrument.asset_class == AssetClass.CRYPTO,
        DEFAULT_MAX_MISSING[tf],
    )
    lines = np.arange(len(bars))
    for problem in find_gaps(bars.timestamps, lines, rules):
        after = ns_to_datetime(int(bars.timestamps[problem.line or 0]))
        report.gaps.append(f"before {after:%Y-%m-%d %H:%M}: {problem.message.split(' before')[0]}")
    moves = np.diff(np.log(bars.close))
    for i in np.flatnonzero(np.abs(moves) > np.log1p(jump_threshold)):
        when = ns_to_datetime(int(bars.timestamps[i + 1]))
        report.jumps.append(
            f"{when:%Y-%m-%d %H:%M}: close {bars.close[i]:g} -> {bars.close[i + 1]:g}"
        )
    return report
