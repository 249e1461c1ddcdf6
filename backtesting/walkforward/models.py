"""A walk-forward analysis (WalkForward), its windows and its stitched out-of-sample result.

WalkForward is the job (JobFields: claim, lease, progress, cancel, recovery). Each finished
window is a WalkForwardWindow row, unique per (walkforward, index): a worker that dies mid-run
leaves the windows it stored, and the next claim redoes only the missing ones. Once every
window is stored, WalkForwardResult (one-to-one, read only by detail views) holds the stitched
curve, buy-and-hold over the same span and the summary metrics.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.ownership import OwnedQuerySet
from backtesting.jobs.fields import JobFields

WALKFORWARD_QUEUE = "optimizations"


class WindowMode(models.TextChoices):
    ROLLING = "rolling", "Rolling"
    ANCHORED = "anchored", "Anchored"


class WalkForwardQuerySet(OwnedQuerySet["WalkForward"]):
    owner_field = "owner"

    def recent(self) -> WalkForwardQuerySet:
        return self.order_by("-queued_at", "-id")


class WalkForward(JobFields):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="walkforwards"
    )
    strategy_version = models.ForeignKey(
        "strategies.StrategyVersion", on_delete=models.PROTECT, related_name="walkforwards"
    )
    symbols = models.JSONField(default=list)
    timeframe = models.CharField(max_length=3)
    start = models.DateTimeField()
    end = models.DateTimeField()
    parameters = models.JSONField(default=dict)  # resolved values; swept ones overridden
    settings = models.JSONField(default=dict)  # BacktestSpec fields except params
    space = models.JSONField(default=dict)  # as a sweep's: {"kind", "parameters", "total", ...}
    constraints = models.JSONField(default=list)
    objective = models.CharField(max_length=32)
    direction = models.CharField(max_length=3, default="max")
    min_trades = models.PositiveIntegerField(default=0)
    mode = models.CharField(max_length=8, choices=WindowMode.choices, default=WindowMode.ROLLING)
    in_sample_bars = models.PositiveIntegerField()
    out_of_sample_bars = models.PositiveIntegerField()
    step_bars = models.PositiveIntegerField()
    n_windows = models.PositiveIntegerField(default=0)  # known once the bars are loaded

    objects = WalkForwardQuerySet.as_manager()

    class Meta:
        ordering = ["-queued_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-queued_at"], name="walkforward_owner_recent"),
            models.Index(fields=["status", "queue"], name="walkforward_status_queue"),
            models.Index(
                fields=["owner"], condition=Q(status="running"), name="walkforward_running"
            ),
        ]

    def __str__(self) -> str:
        return f"Walk-forward {self.pk} ({self.status})"

    def spec_dict(self) -> dict[str, Any]:
        return {**self.settings, "params": dict(self.parameters)}

    @property
    def swept_names(self) -> list[str]:
        return list((self.space or {}).get("parameters", {}))

    @property
    def result_or_none(self) -> WalkForwardResult | None:
        try:
            return self.result
        except WalkForwardResult.DoesNotExist:
            return None


class WalkForwardWindow(models.Model):
    """One window: its bar ranges and times, the in-sample winner and its out-of-sample run.

    Bar indexes are into the aligned clock of the whole range, half-open as in
    backtesting.engine.research.walkforward. `oos_equity` is the out-of-sample curve as
    {"t": [epoch seconds], "v": [equity]} (full resolution; the summary down-samples).
    """

    walkforward = models.ForeignKey(WalkForward, on_delete=models.CASCADE, related_name="windows")
    index = models.PositiveIntegerField()
    is_start_bar = models.PositiveIntegerField()
    is_end_bar = models.PositiveIntegerField()
    oos_end_bar = models.PositiveIntegerField()
    is_start = models.DateTimeField()
    is_end = models.DateTimeField()  # last in-sample bar's time
    oos_start = models.DateTimeField()
    oos_end = models.DateTimeField()  # last out-of-sample bar's time
    parameters = models.JSONField(default=dict)  # the chosen swept values
    is_objective = models.FloatField(null=True, blank=True)
    is_metrics = models.JSONField(default=dict)  # HEADLINE_METRICS of the winner in sample
    oos_metrics = models.JSONField(default=dict)  # the engine's statistics out of sample
    oos_equity = models.JSONField(default=dict)
    candidates = models.PositiveIntegerField(default=0)  # combinations ranked in sample

    class Meta:
        ordering = ["walkforward", "index"]
        constraints = [
            # A recovered run inserts with ON CONFLICT DO NOTHING: a window is never stored twice.
            models.UniqueConstraint(fields=["walkforward", "index"], name="wfwindow_unique"),
        ]

    def __str__(self) -> str:
        return f"Window {self.index} of walk-forward {self.walkforward_id}"

    @property
    def oos_objective(self) -> float | None:
        from backtesting.engine.research.ranking import objective_value

        return objective_value(self.oos_metrics, self.walkforward.objective)


class WalkForwardResult(models.Model):
    """The stitched out-of-sample curve and buy-and-hold (down-sampled), and the summary."""

    walkforward = models.OneToOneField(
        WalkForward, on_delete=models.CASCADE, primary_key=True, related_name="result"
    )
    summary = models.JSONField(default=dict)  # metrics, efficiency, buy_and_hold_return
    curve = models.JSONField(default=dict)  # {"t": [...], "equity": [...], "buy_and_hold": [...]}

    def __str__(self) -> str:
        return f"Result of walk-forward {self.walkforward_id}"
