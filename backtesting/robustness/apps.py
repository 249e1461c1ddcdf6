from django.apps import AppConfig


class RobustnessConfig(AppConfig):
    name = "backtesting.robustness"
    label = "robustness"
    verbose_name = "Robustness tests"

    def ready(self) -> None:
        from backtesting.jobs.registry import JobKind, job_kind_register
        from backtesting.robustness.models import RobustnessRun
        from backtesting.robustness.services import (
            ROBUSTNESS_QUEUE,
            robustness_exhausted,
            robustness_finish_effects,
        )

        # The recovery sweep is the backtesting app's worker service; it sweeps every kind.
        job_kind_register(
            JobKind(
                name="robustness",
                model=RobustnessRun,
                task_name="backtesting.robustness_execute",
                queue=ROBUSTNESS_QUEUE,
                key_prefix="robustness",
                finish_effects=robustness_finish_effects,
                exhausted=robustness_exhausted,
            )
        )
