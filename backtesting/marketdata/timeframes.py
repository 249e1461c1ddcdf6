"""Bar timeframes: their lengths and which finer ones can be resampled into them. Django-free."""

from __future__ import annotations

from enum import StrEnum

MINUTE_NS = 60 * 1_000_000_000
DAY_NS = 24 * 60 * MINUTE_NS


class Timeframe(StrEnum):
    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    H1 = "1h"
    H4 = "4h"
    D1 = "1d"
    W1 = "1w"

    @property
    def nanoseconds(self) -> int:
        return _LENGTH_MINUTES[self] * MINUTE_NS

    @property
    def is_intraday(self) -> bool:
        return _LENGTH_MINUTES[self] < 24 * 60

    @property
    def label(self) -> str:
        return _LABELS[self]

    def finer(self) -> list[Timeframe]:
        """Timeframes that divide this one evenly, coarsest first (cheapest to resample from)."""
        mine = _LENGTH_MINUTES[self]
        candidates = [tf for tf in Timeframe if _LENGTH_MINUTES[tf] < mine]
        if self.is_intraday:
            candidates = [tf for tf in candidates if mine % _LENGTH_MINUTES[tf] == 0]
        return sorted(candidates, key=lambda tf: -_LENGTH_MINUTES[tf])


_LENGTH_MINUTES = {
    Timeframe.M1: 1,
    Timeframe.M5: 5,
    Timeframe.M15: 15,
    Timeframe.H1: 60,
    Timeframe.H4: 240,
    Timeframe.D1: 1440,
    Timeframe.W1: 10080,
}
_LABELS = {
    Timeframe.M1: "1 minute",
    Timeframe.M5: "5 minutes",
    Timeframe.M15: "15 minutes",
    Timeframe.H1: "1 hour",
    Timeframe.H4: "4 hours",
    Timeframe.D1: "1 day",
    Timeframe.W1: "1 week",
}

TIMEFRAME_CHOICES = [(tf.value, tf.label) for tf in Timeframe]
