"""The sweeps app: registers its job kind (the chunk) with the shared lifecycle."""

from django.apps import AppConfig
from django.conf import settings


class OptimizationConfig(AppConfig):
    name = "backtesting.optimization"
    label = "optimization"
    verbose_name = "Parameter sweeps"

    def ready(self) -> None:
        from backtesting.jobs.registry import JobKind, job_kind_register
        from backtesting.optimization.execution import chunk_exhausted, chunk_finish_effects
        from backtesting.optimization.models import OPTIMIZATION_QUEUE, OptimizationChunk

        # The recovery sweep the backtesting app registers covers every kind, this one too.
        job_kind_register(
            JobKind(
                name="optimization_chunk",
                model=OptimizationChunk,
                task_name="backtesting.optimization_chunk_execute",
                queue=OPTIMIZATION_QUEUE,
                key_prefix="optimizations",
                finish_effects=chunk_finish_effects,
                exhausted=chunk_exhausted,
                user_max_running=lambda: settings.OPTIMIZATION_USER_MAX_RUNNING,
            )
        )
