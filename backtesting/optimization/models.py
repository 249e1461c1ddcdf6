"""A parameter sweep (Optimization), its chunks of combinations and one result row per combination.

The chunk is the job: OptimizationChunk inherits JobFields and runs on the shared lifecycle
(claim with a token, lease, cancel, recovery of a lost worker, attempt cap). The Optimization row
carries the same columns for its owner, status and progress, but no worker ever claims it: its
status follows its chunks (backtesting.optimization.services.optimization_advance).
OptimizationResult is unique per (optimization, index), so a redelivered or recovered chunk can
never count a combination twice.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.ownership import OwnedQuerySet
from backtesting.jobs.fields import ACTIVE_STATUSES, JobFields

OPTIMIZATION_QUEUE = "optimizations"


class SpaceKind(models.TextChoices):
    GRID = "grid", "Grid"
    RANDOM = "random", "Random"
    TPE = "tpe", "TPE (Optuna)"


class Direction(models.TextChoices):
    MAX = "max", "Maximise"
    MIN = "min", "Minimise"


class OptimizationQuerySet(OwnedQuerySet["Optimization"]):
    owner_field = "owner"

    def active(self) -> OptimizationQuerySet:
        return self.filter(status__in=ACTIVE_STATUSES)

    def recent(self) -> OptimizationQuerySet:
        return self.order_by("-queued_at", "-id")


class Optimization(JobFields):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="optimizations"
    )
    strategy_version = models.ForeignKey(
        "strategies.StrategyVersion", on_delete=models.PROTECT, related_name="optimizations"
    )
    symbols = models.JSONField(default=list)
    timeframe = models.CharField(max_length=3)
    start = models.DateTimeField()
    end = models.DateTimeField()
    # The resolved values of every declared parameter; the swept ones are overridden per row.
    parameters = models.JSONField(default=dict)
    settings = models.JSONField(default=dict)  # BacktestSpec fields except params
    # {"kind", "parameters": {name: {"min", "max", "step"}}, "samples", "seed", "batch_size"}
    space = models.JSONField(default=dict)
    constraints = models.JSONField(default=list)
    objective = models.CharField(max_length=32)
    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.MAX)
    min_trades = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)  # combinations the sweep will run
    chunk_size = models.PositiveIntegerField(default=25)
    best_index = models.IntegerField(null=True, blank=True)
    best_objective = models.FloatField(null=True, blank=True)
    # The best combination's Sharpe, PSR and DSR given the trials, once the sweep finished.
    deflated = models.JSONField(default=dict, blank=True)

    objects = OptimizationQuerySet.as_manager()

    class Meta:
        ordering = ["-queued_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-queued_at"], name="optimization_owner_recent"),
            models.Index(fields=["status", "queue"], name="optimization_status_queue"),
        ]

    def __str__(self) -> str:
        return f"Optimization {self.pk} ({self.status})"

    def spec_dict(self) -> dict[str, Any]:
        return {**self.settings, "params": dict(self.parameters)}

    @property
    def swept_names(self) -> list[str]:
        return list((self.space or {}).get("parameters", {}))


class OptimizationChunk(JobFields):
    """Combinations `[[index, {name: value}], ...]` that one sandbox child runs as a batch."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="optimization_chunks"
    )
    optimization = models.ForeignKey(Optimization, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    combinations = models.JSONField(default=list)

    class Meta:
        ordering = ["optimization", "number"]
        indexes = [
            models.Index(fields=["status", "queue"], name="optchunk_status_queue"),
            models.Index(fields=["owner"], condition=Q(status="running"), name="optchunk_running"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["optimization", "number"], name="optchunk_unique"),
        ]

    def __str__(self) -> str:
        return f"Chunk {self.number} of optimization {self.optimization_id} ({self.status})"


class ResultStatus(models.TextChoices):
    OK = "ok", "OK"
    FAILED = "failed", "Failed"


class OptimizationResult(models.Model):
    """One combination: its parameters, its headline metrics and objective, or its error."""

    optimization = models.ForeignKey(Optimization, on_delete=models.CASCADE, related_name="results")
    index = models.PositiveIntegerField()
    parameters = models.JSONField(default=dict)  # the swept parameters only
    status = models.CharField(max_length=8, choices=ResultStatus.choices)
    objective = models.FloatField(null=True, blank=True)
    n_trades = models.IntegerField(null=True, blank=True)
    metrics = models.JSONField(default=dict, blank=True)  # HEADLINE_METRICS
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["optimization", "index"]
        constraints = [
            # A redelivered or recovered chunk inserts with ON CONFLICT DO NOTHING: never twice.
            models.UniqueConstraint(fields=["optimization", "index"], name="optresult_unique"),
        ]
        indexes = [models.Index(fields=["optimization", "objective"], name="optresult_objective")]

    def __str__(self) -> str:
        return f"Combination {self.index} of optimization {self.optimization_id}"
