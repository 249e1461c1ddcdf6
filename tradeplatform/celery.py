"""The Celery application, shared by every worker and by the web process that enqueues.

The request id of the request that enqueued a task travels in the message headers and
is restored around the task, so one id follows a backtest from the click to the worker.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradeplatform.settings")

# Our Django fix-up in place of Celery's own: it keeps each worker process's database pool
# between tasks (tradeplatform/celery_fixup.py).
app = Celery("tradeplatform", fixups=["tradeplatform.celery_fixup:fixup"])
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

_REQUEST_ID_HEADER = "request_id"


@signals.setup_logging.connect
def keep_our_logging(**kwargs: Any) -> None:
    """Connecting this receiver stops Celery from replacing the JSON logging Django set up.

    django.setup() (Celery's Django fixup calls it in every worker) applies settings.LOGGING.
    """


@signals.before_task_publish.connect
def attach_request_id(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    from tradeplatform.request_context import current_request_id

    request_id = current_request_id()
    if headers is not None and request_id and _REQUEST_ID_HEADER not in headers:
        headers[_REQUEST_ID_HEADER] = request_id


@signals.task_prerun.connect
def restore_request_id(task: Any = None, **kwargs: Any) -> None:
    from tradeplatform.request_context import new_request_id, request_id_var, user_id_var

    request_id_var.set(_request_id_of(task) or new_request_id())
    user_id_var.set(None)


def _request_id_of(task: Any) -> str | None:
    if task is None:
        return None
    # Custom message headers become request attributes on a worker; apply() keeps them in
    # request.headers. Either way the id is only trusted if it is well formed.
    from tradeplatform.request_context import is_well_formed_request_id

    candidate = getattr(task.request, _REQUEST_ID_HEADER, None) or (
        getattr(task.request, "headers", None) or {}
    ).get(_REQUEST_ID_HEADER)
    return candidate if is_well_formed_request_id(candidate) else None


@signals.task_postrun.connect
def clear_request_id(**kwargs: Any) -> None:
    from tradeplatform.request_context import request_id_var, user_id_var

    request_id_var.set(None)
    user_id_var.set(None)


@signals.worker_ready.connect
def start_heartbeat(sender: Any = None, **kwargs: Any) -> None:
    from tradeplatform.worker_heartbeat import start_heartbeat_thread
    from tradeplatform.worker_services import worker_services_start

    hostname = getattr(sender, "hostname", None) or "worker"
    start_heartbeat_thread(hostname)
    # Every worker runs the apps' services (the job recovery sweep), so no beat process is needed.
    worker_services_start(hostname)


@signals.worker_init.connect
def prepare_filesystem_broker(**kwargs: Any) -> None:
    ensure_broker_folders()


def ensure_broker_folders() -> None:
    """The filesystem transport needs its folders to exist before anyone publishes."""
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


# Prometheus multiprocess files (tradeplatform/metrics_files.py): a dead process's live
# gauges must not be shown forever, and a start leaves no file of a previous run behind.
@signals.worker_init.connect
def remove_stale_metrics_files(**kwargs: Any) -> None:
    from tradeplatform.metrics_files import metrics_stale_files_remove

    metrics_stale_files_remove()


@signals.worker_process_init.connect
def start_pool_process_metrics(**kwargs: Any) -> None:
    from tradeplatform.metrics import sample_process_resources
    from tradeplatform.metrics_files import metrics_dead_processes_forget

    metrics_dead_processes_forget()  # a pool process killed by a signal ran no exit hook
    sample_process_resources(force=True)


@signals.task_postrun.connect
def sample_pool_process_metrics(**kwargs: Any) -> None:
    from tradeplatform.metrics import sample_process_resources

    sample_process_resources()


@signals.worker_process_shutdown.connect
def forget_pool_process_metrics(pid: int | None = None, **kwargs: Any) -> None:
    from tradeplatform.metrics_files import metrics_process_forget

    metrics_process_forget(pid or os.getpid())


@signals.worker_shutdown.connect
def forget_main_process_metrics(**kwargs: Any) -> None:
    from tradeplatform.metrics_files import metrics_dead_processes_forget, metrics_process_forget

    metrics_process_forget(os.getpid())
    # The pool processes have stopped by now. One that ran no exit hook (killed, or stopped
    # while it was still starting) has no successor left to clean up after it.
    metrics_dead_processes_forget()
