"""The walk-forward kind on the shared lifecycle: registered once, run by its task's name, routed
to the optimizations queue; the task runs the job to its end."""

from __future__ import annotations

import pytest
from celery import current_app

from backtesting.jobs.fields import JobStatus
from backtesting.jobs.registry import job_kind_for, job_kinds
from backtesting.walkforward.models import WalkForward
from backtesting.walkforward.tasks import walkforward_execute_task


def test_the_walkforward_kind_is_registered_and_routed_to_the_optimizations_queue() -> None:
    kind = job_kind_for(WalkForward)
    assert [k.name for k in job_kinds()].count("walkforward") == 1
    assert kind.task_name == walkforward_execute_task.name == "backtesting.walkforward_execute"
    assert kind.queue == "optimizations"
    route = current_app.amqp.router.route({}, kind.task_name)
    assert route["queue"].name == "optimizations"


@pytest.mark.django_db
def test_the_task_runs_a_queued_walkforward_to_the_end(submit_walkforward) -> None:
    walkforward = submit_walkforward(in_sample_bars=60, out_of_sample_bars=60, step_bars=60)

    walkforward_execute_task.apply(args=(walkforward.pk,))

    walkforward.refresh_from_db()
    assert walkforward.status == JobStatus.SUCCEEDED
    assert walkforward.windows.count() == 1 and walkforward.result.summary["n_windows"] == 1
