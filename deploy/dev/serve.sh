#!/usr/bin/env bash
# `make run`: migrate, load the demo, then serve gunicorn and a Celery worker until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.venv
export DJANGO_ENV="${DJANGO_ENV:-dev}"
# Every gunicorn and Celery process writes its samples here; /metrics aggregates them.
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$PWD/var/prometheus}"
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

"$venv/bin/python" manage.py migrate --noinput
"$venv/bin/python" manage.py collectstatic --noinput --verbosity 0
"$venv/bin/python" manage.py load_demo

pids=()
stop() {
  trap - INT TERM EXIT
  echo "Stopping web and worker..."
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM EXIT

"$venv/bin/celery" -A tradeplatform worker --loglevel INFO \
  --queues "${CELERY_QUEUES:-celery,backtests,optimizations,notifications}" \
  --concurrency "${CELERY_CONCURRENCY:-2}" &
pids+=($!)
"$venv/bin/gunicorn" --config deploy/gunicorn.conf.py tradeplatform.wsgi &
pids+=($!)

echo "tradeplatform is serving on http://127.0.0.1:8000 (API docs: /api/docs/, health: /health). Ctrl-C stops it."
# If either process dies, stop the other rather than serve half an app.
wait -n "${pids[@]}"
