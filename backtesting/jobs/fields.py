"""What every kind of job row carries: its owner, its status machine, its claim and its error.

A job kind (backtest today; optimization, walk-forward, Monte Carlo next) is a model that
inherits `JobFields` and adds its inputs and results. Everything that moves a row through
its states lives in `backtesting.jobs.lifecycle` and works on any such model.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
FINISHED_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class JobFields(models.Model):
    """The lifecycle columns of a job row; a concrete kind adds its indexes on them.

    Each kind should index (owner, -queued_at), (status, queue) and owner WHERE running:
    the list page, the recovery sweep and the fairness count read through them.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="%(class)ss"
    )
    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.FloatField(default=0.0)
    queue = models.CharField(max_length=32, default="backtests")
    queued_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The claim: which delivery owns the run and until when. A worker renews the lease while
    # it runs; a `running` row whose lease expired belongs to a dead worker and may be re-claimed.
    # On a `queued` row the lease is its message's (see backtesting.jobs.recovery).
    claim_token = models.CharField(max_length=32, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)

    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    error_details = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=128, blank=True)

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES
