"""Business metrics of backtest jobs, written by web and worker processes alike.

With PROMETHEUS_MULTIPROC_DIR set (deploy/dev/serve.sh) every process writes its own
file and /metrics sums them, so a counter bumped in a worker shows on the web's scrape.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

BACKTESTS = Counter(
    "tradeplatform_backtests_total",
    "Backtests by the status they reached (queued on submit, then their final state).",
    ["status"],
)
QUEUE_WAIT = Histogram(
    "tradeplatform_backtest_queue_wait_seconds",
    "From submission to a worker claiming the job.",
    ["queue"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
RUN_TIME = Histogram(
    "tradeplatform_backtest_run_seconds",
    "From claim to final state, per final status.",
    ["status"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
)
BARS_PROCESSED = Counter(
    "tradeplatform_backtest_bars_processed_total", "Bars fed to successful backtests."
)
SANDBOX_FAILURES = Counter(
    "tradeplatform_sandbox_failures_total", "Sandboxed runs that failed, by error code.", ["kind"]
)
# "mostrecent": the last process to count the queue is right; summing across processes is not.
QUEUE_DEPTH = Gauge(
    "tradeplatform_queue_depth",
    "Jobs waiting (queued rows) per Celery queue, refreshed by every worker every few seconds.",
    ["queue"],
    multiprocess_mode="mostrecent",
)
DEAD_LETTERS = Counter(
    "tradeplatform_dead_letters_total", "Jobs that exhausted their retries.", ["kind"]
)
WEBHOOK_DELIVERIES = Counter(
    "tradeplatform_webhook_deliveries_total", "Webhook delivery attempts by outcome.", ["outcome"]
)
RECOVERED = Counter(
    "tradeplatform_backtests_recovered_total",
    "Jobs the recovery sweep re-published or finished because their message was lost.",
    ["reason"],
)
PUBLISH_FAILURES = Counter(
    "tradeplatform_job_publish_failures_total",
    "Job messages not published (broker error, or its breaker open); the sweep publishes them.",
    ["reason"],
)
DEFERRED = Counter(
    "tradeplatform_backtests_deferred_total",
    "Deliveries put back because the job's owner already ran their share of the workers.",
)
