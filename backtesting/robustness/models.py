"""Robustness runs on a finished backtest: Monte Carlo, random entry, the look-ahead check.

A RobustnessRun is a job (JobFields: status, progress, claim, cancel) of one kind among three;
its inputs are the backtest it examines and a small JSON of validated parameters. What it
found lives beside it in RobustnessResult, one-to-one, read only by the detail views.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.ownership import OwnedQuerySet
from backtesting.jobs.fields import JobFields


class RobustnessKind(models.TextChoices):
    MONTE_CARLO = "monte_carlo", "Monte Carlo"
    RANDOM_ENTRY = "random_entry", "Random entry"
    LOOKAHEAD = "lookahead", "Look-ahead check"


class RobustnessRunQuerySet(OwnedQuerySet["RobustnessRun"]):
    owner_field = "owner"

    def recent(self) -> RobustnessRunQuerySet:
        return self.order_by("-queued_at", "-id")


class RobustnessRun(JobFields):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="robustness_runs"
    )
    backtest = models.ForeignKey(
        "backtesting.Backtest", on_delete=models.CASCADE, related_name="robustness_runs"
    )
    kind = models.CharField(max_length=16, choices=RobustnessKind.choices)
    parameters = models.JSONField(default=dict)  # validated: n_runs, seed, method, ...

    objects = RobustnessRunQuerySet.as_manager()

    class Meta:
        ordering = ["-queued_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-queued_at"], name="robustness_owner_recent"),
            models.Index(fields=["status", "queue"], name="robustness_status_queue"),
            models.Index(
                fields=["owner"], condition=Q(status="running"), name="robustness_owner_running"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__gte=0) & Q(progress__lte=1), name="robustness_progress_0_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk} of backtest {self.backtest_id} ({self.status})"

    @property
    def result_or_none(self) -> RobustnessResult | None:
        try:
            return self.result
        except RobustnessResult.DoesNotExist:
            return None


class RobustnessResult(models.Model):
    """What a succeeded run found: summary numbers, histograms and down-sampled series (JSON).

    Bounded by construction (at most a few hundred points per series), so one JSON document.
    """

    run = models.OneToOneField(
        RobustnessRun, on_delete=models.CASCADE, primary_key=True, related_name="result"
    )
    data = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"Result of robustness run {self.run_id}"
