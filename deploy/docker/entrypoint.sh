#!/bin/sh
# The image's entrypoint: the first argument chooses the role (docs/deployment.md, "Image").
#
#   web                 gunicorn with deploy/gunicorn.conf.py (GUNICORN_* variables)
#   worker [QUEUES]     a Celery worker (default: every queue) plus its metrics exporter on 9808
#   beat                Celery beat (nothing is scheduled today: every worker runs the recovery
#                       sweep itself; kept for periodic tasks to come)
#   migrate             manage.py migrate, then exit (one-shot, before a release's web/worker)
#   manage ARGS...      any manage.py command (createsuperuser, jobs_recover, check --deploy...)
#   help                this text
#   anything else       run as given (a shell for debugging: `sh`)
#
# tini (PID 1) forwards signals and reaps zombies; each role execs so the server gets SIGTERM.
set -eu
# The project root (/app in the image); the worker's exporter imports the project by path.
cd "$(dirname "$0")/../.."
PYTHONPATH="$(pwd)"
export PYTHONPATH

role="${1:-web}"
[ "$#" -gt 0 ] && shift
# For the image's HEALTHCHECK; a read-only /tmp only costs the role-aware probe (web's is used).
printf '%s\n' "$role" 2>/dev/null > "${HEALTHCHECK_ROLE_FILE:-/tmp/tradeplatform-role}" || true

fresh_metrics_dir() {
  # One directory per container, emptied at start: files of a previous run (same pids after
  # a restart) must not be summed into this one's (docs/operations.md, "Processes").
  if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    rm -rf "$PROMETHEUS_MULTIPROC_DIR"
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
  fi
}

# Every role imports the metrics code, which needs its directory to exist (web and worker
# empty it first; a command run beside them must not wipe their files, so only create it).
[ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ] && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

case "$role" in
  web)
    fresh_metrics_dir
    export TP_PROCESS_KIND=web  # sizes the database pool for this kind (docs/operations.md)
    exec gunicorn --config deploy/gunicorn.conf.py "$@" tradeplatform.wsgi
    ;;
  worker)
    fresh_metrics_dir
    queues="${1:-${CELERY_QUEUES:-celery,backtests,optimizations,notifications}}"
    [ "$#" -gt 0 ] && shift
    export TP_PROCESS_KIND=worker
    # Started first and left running beside Celery; tini reaps it when the container stops.
    python deploy/docker/worker_metrics.py &
    exec celery -A tradeplatform worker --loglevel "${CELERY_LOG_LEVEL:-INFO}" \
      --queues "$queues" --concurrency "${CELERY_CONCURRENCY:-2}" "$@"
    ;;
  beat)
    export TP_PROCESS_KIND=beat
    exec celery -A tradeplatform beat --loglevel "${CELERY_LOG_LEVEL:-INFO}" \
      --schedule /tmp/celerybeat-schedule "$@"
    ;;
  migrate)
    # Straight to PostgreSQL when MIGRATE_DATABASE_URL is set: DDL holding locks for long and
    # session state are what a transaction pooler (PgBouncer) handles worst.
    export TP_PROCESS_KIND=command DATABASE_URL="${MIGRATE_DATABASE_URL:-${DATABASE_URL:-}}"
    exec python manage.py migrate --noinput "$@"
    ;;
  manage)
    export TP_PROCESS_KIND=command
    exec python manage.py "$@"
    ;;
  help|--help|-h)
    sed -n '2,13p' "$0"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
