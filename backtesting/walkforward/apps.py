"""The walk-forward app: registers its job kind with the shared lifecycle."""

from django.apps import AppConfig


class WalkForwardConfig(AppConfig):
    name = "backtesting.walkforward"
    label = "walkforward"
    verbose_name = "Walk-forward analyses"

    def ready(self) -> None:
        from backtesting.jobs.registry import JobKind, job_kind_register
        from backtesting.walkforward.models import WALKFORWARD_QUEUE, WalkForward
        from backtesting.walkforward.services import (
            walkforward_exhausted,
            walkforward_finish_effects,
        )

        # The recovery sweep the backtesting app registers covers every kind, this one too.
        job_kind_register(
            JobKind(
                name="walkforward",
                model=WalkForward,
                task_name="backtesting.walkforward_execute",
                queue=WALKFORWARD_QUEUE,
                key_prefix="walkforwards",
                finish_effects=walkforward_finish_effects,
                exhausted=walkforward_exhausted,
            )
        )
