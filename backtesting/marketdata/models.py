"""Instruments, their OHLCV bars, and the per-series data version that cache keys use."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import F, Q

from backtesting.marketdata.timeframes import TIMEFRAME_CHOICES


class AssetClass(models.TextChoices):
    EQUITY = "equity", "Equity"
    FX = "fx", "FX"
    CRYPTO = "crypto", "Crypto"
    FUTURE = "future", "Future"
    INDEX = "index", "Index"


class InstrumentQuerySet(models.QuerySet["Instrument"]):
    def active(self) -> InstrumentQuerySet:
        return self.filter(is_active=True)

    def search(self, term: str) -> InstrumentQuerySet:
        return self.filter(Q(symbol__icontains=term) | Q(name__icontains=term))


class Instrument(models.Model):
    symbol = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200, blank=True)
    asset_class = models.CharField(
        max_length=16, choices=AssetClass.choices, default=AssetClass.EQUITY
    )
    exchange = models.CharField(max_length=32, blank=True)
    currency = models.CharField(max_length=8, default="USD")
    # IANA name; decides which calendar day a bar belongs to (daily sessions, resampling).
    timezone = models.CharField(max_length=64, default="UTC")
    # Exact, because order prices are rounded to it; bar prices are floats (docs/architecture.md).
    price_tick = models.DecimalField(max_digits=18, decimal_places=10, default=Decimal("0.01"))
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = InstrumentQuerySet.as_manager()

    class Meta:
        db_table = "marketdata_instrument"
        ordering = ["symbol"]
        constraints = [
            # Symbols are looked up upper-cased everywhere; the database refuses anything else.
            models.CheckConstraint(
                condition=Q(symbol=models.functions.Upper("symbol")) & ~Q(symbol=""),
                name="marketdata_instrument_symbol_upper",
            ),
        ]

    def __str__(self) -> str:
        return self.symbol


class Bar(models.Model):
    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="bars")
    timeframe = models.CharField(max_length=3, choices=TIMEFRAME_CHOICES)
    # The bar's open time in UTC; a daily bar is stamped 00:00 UTC of its session date.
    timestamp = models.DateTimeField()
    open = models.FloatField()
    high = models.FloatField()
    low = models.FloatField()
    close = models.FloatField()
    volume = models.FloatField(default=0.0)

    class Meta:
        db_table = "marketdata_bar"
        constraints = [
            # Its btree (instrument_id, timeframe, timestamp) is also the index every range read
            # uses: equality on the first two columns, a range scan in order on the third.
            models.UniqueConstraint(
                fields=["instrument", "timeframe", "timestamp"], name="marketdata_bar_unique_ts"
            ),
            models.CheckConstraint(condition=Q(low__gt=0), name="marketdata_bar_prices_positive"),
            models.CheckConstraint(
                condition=Q(low__lte=F("open")) & Q(low__lte=F("close")),
                name="marketdata_bar_low_lowest",
            ),
            models.CheckConstraint(
                condition=Q(high__gte=F("open")) & Q(high__gte=F("close")),
                name="marketdata_bar_high_highest",
            ),
            models.CheckConstraint(condition=Q(volume__gte=0), name="marketdata_bar_volume_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.timeframe} {self.timestamp.isoformat()}"


class SeriesVersion(models.Model):
    """One row per stored (instrument, timeframe); `version` grows with each import that writes."""

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="versions")
    timeframe = models.CharField(max_length=3, choices=TIMEFRAME_CHOICES)
    version = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "marketdata_series_version"
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "timeframe"], name="marketdata_version_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.timeframe} v{self.version}"
