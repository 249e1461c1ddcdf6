"""Backtest jobs, their results (a row beside each job) and the dead-letter record.

The notification models (webhooks, deliveries, the email opt-in) live in
backtesting/notifications/models.py and are imported here, which is what makes Django register
them under this app's label: the app registry imports `backtesting.models` only.

A Backtest row is the job: its lifecycle columns come from `JobFields`, and its status is a
small state machine advanced only by the conditional UPDATEs of `backtesting.jobs.lifecycle`,
so two workers can never both own it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.ownership import OwnedQuerySet
from backtesting.curves import CurveArrays, curve_decode
from backtesting.engine.strategy import MAX_TAG_LENGTH
from backtesting.jobs.fields import ACTIVE_STATUSES, JobFields, JobStatus
from backtesting.notifications.models import (
    DeliveryStatus,
    NotificationPreference,
    Webhook,
    WebhookDelivery,
)

# Every job kind shares one status machine; the backtest name stays for its many readers.
BacktestStatus = JobStatus


class BacktestQuerySet(OwnedQuerySet["Backtest"]):
    owner_field = "owner"

    def active(self) -> BacktestQuerySet:
        return self.filter(status__in=ACTIVE_STATUSES)

    def recent(self) -> BacktestQuerySet:
        return self.order_by("-queued_at", "-id")


class Backtest(JobFields):
    # JobFields' owner, with its related name spelled out: migrations keep a templated name
    # (`%(class)ss`) as written, so this keeps the migration state of the backtest as it was.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backtests"
    )
    # PROTECT: a result must always be traceable to the exact code that produced it.
    strategy_version = models.ForeignKey(
        "strategies.StrategyVersion", on_delete=models.PROTECT, related_name="backtests"
    )
    instruments = models.ManyToManyField("marketdata.Instrument", related_name="backtests")
    # Order matters (the first symbol is `self.data`), which the M2M cannot keep.
    symbols = models.JSONField(default=list)
    timeframe = models.CharField(max_length=3)
    start = models.DateTimeField()
    end = models.DateTimeField()
    parameters = models.JSONField(default=dict)  # resolved: declared defaults + user values
    settings = models.JSONField(default=dict)  # BacktestSpec fields except params
    rerun_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reruns"
    )

    # Provenance: with these, a result can be reproduced bit for bit or shown to be stale.
    engine_version = models.CharField(max_length=32, blank=True)
    code_sha256 = models.CharField(max_length=64, blank=True)
    data_fingerprint = models.CharField(max_length=64, blank=True)
    # The bar codec's version the fingerprint hashed (backtesting.engine.barcodec.VERSION);
    # fingerprints of different versions cannot be compared. Null while there is none.
    data_fingerprint_version = models.PositiveSmallIntegerField(null=True, blank=True)
    data_versions = models.JSONField(default=dict, blank=True)
    bars_processed = models.PositiveBigIntegerField(default=0)

    objects = BacktestQuerySet.as_manager()

    class Meta:
        ordering = ["-queued_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-queued_at"], name="backtest_owner_recent"),
            models.Index(fields=["status", "queue"], name="backtest_status_queue"),
            # The fairness rule counts an owner's running jobs on every claim; a user's
            # history may be long, the running ones are few.
            models.Index(
                fields=["owner"],
                condition=Q(status="running"),
                name="backtest_owner_running",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(start__lt=models.F("end")), name="backtest_start_before_end"
            ),
            models.CheckConstraint(
                condition=Q(progress__gte=0) & Q(progress__lte=1), name="backtest_progress_0_1"
            ),
        ]

    def __str__(self) -> str:
        return f"Backtest {self.pk} ({self.status})"

    def spec_dict(self) -> dict[str, Any]:
        """The BacktestSpec.to_dict()-shaped input of this run."""
        return {**self.settings, "params": dict(self.parameters)}

    # The result's fields, read through the one-to-one. One query unless the result was
    # select_related (the detail selector does); lists must never touch these.
    @property
    def result_or_none(self) -> BacktestResult | None:
        try:
            return self.result
        except BacktestResult.DoesNotExist:
            return None

    @property
    def metrics(self) -> dict[str, Any] | None:
        result = self.result_or_none
        return result.metrics if result else None

    @property
    def equity_curve(self) -> dict[str, list[Any]] | None:
        result = self.result_or_none
        return result.equity_curve() if result else None

    @property
    def timings(self) -> dict[str, float]:
        result = self.result_or_none
        return result.timings if result else {}

    @property
    def sandbox_log(self) -> str:
        result = self.result_or_none
        return result.sandbox_log if result else ""


class BacktestResult(models.Model):
    """What a succeeded backtest produced, beside its job row: only detail views load it.

    The equity and drawdown series are compact arrays (layout in backtesting.curves),
    null when the run stored no curve. Written in the transaction that marks the job
    `succeeded`, as its last statement (`timings["write_ms"]` is the write up to it).
    """

    backtest = models.OneToOneField(
        Backtest, on_delete=models.CASCADE, primary_key=True, related_name="result"
    )
    metrics = models.JSONField(null=True, blank=True)  # the engine's statistics
    timestamps = models.BinaryField(null=True, blank=True)
    equity = models.BinaryField(null=True, blank=True)
    drawdown = models.BinaryField(null=True, blank=True)
    # The strategy's self.I lines for the price chart (layout in backtesting.indicator_arrays);
    # null for older results and runs without indicators.
    indicators = models.JSONField(null=True, blank=True)
    indicator_values = models.BinaryField(null=True, blank=True)
    timings = models.JSONField(default=dict, blank=True)  # ms per phase, for the benchmark
    sandbox_log = models.TextField(blank=True)  # the strategy's output, bounded

    def __str__(self) -> str:
        return f"Result of backtest {self.backtest_id}"

    def equity_curve(self) -> dict[str, list[Any]] | None:
        """{"timestamps", "equity", "drawdown"} as the API shows them; None without a curve."""
        if self.timestamps is None or self.equity is None or self.drawdown is None:
            return None
        return curve_decode(
            CurveArrays(timestamps=self.timestamps, equity=self.equity, drawdown=self.drawdown)
        )


class Trade(models.Model):
    """One closed (or still open) position lot of a finished backtest; bulk-inserted."""

    backtest = models.ForeignKey(Backtest, on_delete=models.CASCADE, related_name="trades")
    seq = models.PositiveIntegerField()  # the engine's trade id: stable order for pagination
    symbol = models.CharField(max_length=32)
    direction = models.CharField(max_length=5)
    size = models.FloatField()
    entry_time = models.DateTimeField()
    entry_price = models.FloatField()
    exit_time = models.DateTimeField(null=True, blank=True)
    exit_price = models.FloatField(null=True, blank=True)
    gross_pnl = models.FloatField(null=True, blank=True)
    net_pnl = models.FloatField(null=True, blank=True)
    net_pnl_pct = models.FloatField(null=True, blank=True)
    fees = models.FloatField(default=0.0)
    bars_held = models.IntegerField(default=0)
    exit_reason = models.CharField(max_length=32, blank=True)
    tag = models.CharField(max_length=MAX_TAG_LENGTH, blank=True)
    is_open = models.BooleanField(default=False)

    class Meta:
        ordering = ["backtest", "seq"]
        constraints = [
            # A redelivered job can never duplicate trades: the second insert would collide.
            models.UniqueConstraint(fields=["backtest", "seq"], name="backtest_trade_seq_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.backtest_id}#{self.seq} {self.symbol} {self.direction}"


class DeadLetterKind(models.TextChoices):
    BACKTEST = "backtest", "Backtest"
    WEBHOOK = "webhook", "Webhook delivery"


class DeadLetter(models.Model):
    """A job that exhausted its retries; operators inspect and requeue it."""

    kind = models.CharField(max_length=16, choices=DeadLetterKind.choices)
    task_name = models.CharField(max_length=200)
    task_args = models.JSONField(default=list)
    backtest = models.ForeignKey(
        Backtest, null=True, blank=True, on_delete=models.CASCADE, related_name="dead_letters"
    )
    delivery = models.ForeignKey(
        "backtesting.WebhookDelivery",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="dead_letters",
    )
    error = models.TextField()
    request_id = models.CharField(max_length=128, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    requeued_at = models.DateTimeField(null=True, blank=True)
    requeued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.task_name} {self.created_at:%Y-%m-%d %H:%M}"


__all__ = [
    "Backtest",
    "BacktestQuerySet",
    "BacktestResult",
    "BacktestStatus",
    "DeadLetter",
    "DeadLetterKind",
    "DeliveryStatus",
    "NotificationPreference",
    "Trade",
    "Webhook",
    "WebhookDelivery",
]
