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

# Gunicorn and a Celery worker under one supervisor: it prints the address really served,
# restarts a worker that dies, and stops both within a grace period on Ctrl-C or SIGTERM.
exec "$venv/bin/python" deploy/dev/supervise.py
