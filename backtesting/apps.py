from django.apps import AppConfig
from django.conf import settings


class BacktestingConfig(AppConfig):
    name = "backtesting"
    verbose_name = "Backtesting"

    def ready(self) -> None:
        from backtesting.sandbox_health import sandbox_health
        from tradeplatform.apps import register_health_check

        register_health_check("sandbox", sandbox_health, critical=True)
        _register_job_kinds()
        from backtesting.sandbox_worker import sandbox_worker_hooks_connect

        sandbox_worker_hooks_connect()


def _register_job_kinds() -> None:
    """The job kinds of this app and the recovery sweep that every worker runs for them.

    A new kind is one more `job_kind_register` line: its model (inheriting JobFields), its
    task's name and queue, and what follows a final state.
    """
    from backtesting.execution import backtest_finish_effects
    from backtesting.jobs.lifecycle import queue_depths_refresh
    from backtesting.jobs.recovery import jobs_recover_stale_if_due
    from backtesting.jobs.registry import JobKind, job_kind_register
    from backtesting.models import Backtest
    from backtesting.sandbox_health import REPORT_INTERVAL_SECONDS, sandbox_isolation_report
    from backtesting.services import BACKTEST_QUEUE, backtest_dead_letter_exhausted
    from tradeplatform.worker_services import WorkerService, register_worker_service

    job_kind_register(
        JobKind(
            name="backtest",
            model=Backtest,
            task_name="backtesting.backtest_execute",
            queue=BACKTEST_QUEUE,
            key_prefix="backtests",
            finish_effects=backtest_finish_effects,
            exhausted=backtest_dead_letter_exhausted,
        )
    )
    register_worker_service(
        WorkerService(
            name="sandbox-isolation-report",
            run=sandbox_isolation_report,
            interval=lambda: REPORT_INTERVAL_SECONDS,
            uses_database=False,
        )
    )
    register_worker_service(
        WorkerService(
            name="job-recovery",
            run=lambda hostname: jobs_recover_stale_if_due(owner=hostname),
            interval=lambda: settings.BACKTEST_RECOVERY_INTERVAL_SECONDS,
        )
    )
    register_worker_service(
        WorkerService(
            name="queue-depth",
            run=queue_depths_refresh,
            interval=lambda: settings.JOB_QUEUE_DEPTH_INTERVAL_SECONDS,
        )
    )
