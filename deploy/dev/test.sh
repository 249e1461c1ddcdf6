#!/usr/bin/env bash
# `make test`: the whole suite with coverage. Uses PostgreSQL and Redis when they answer at
# their default local addresses (or the URLs given), else the embedded default, and says so.
# REQUIRE_SERVICES=1 (CI) turns the fallback into a failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.venv
export DJANGO_ENV=test

database_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/tradeplatform}"
# Tests use Redis databases 1 (cache) and 2 (broker) so they never flush a dev instance's db 0.
redis_url="${REDIS_URL:-redis://127.0.0.1:6379/1}"
broker_url="${CELERY_BROKER_URL:-redis://127.0.0.1:6379/2}"

if "$venv/bin/python" deploy/dev/probe_services.py "$database_url" "$redis_url"; then
  export DATABASE_URL="$database_url" REDIS_URL="$redis_url" CELERY_BROKER_URL="$broker_url"
  # Two pytest processes (pytest-xdist): each has its own test database and Redis databases
  # (tradeplatform/xdist_isolation.py), and much of the suite waits on subprocesses and
  # services, so two beat one even on two cores. TEST_PROCESSES=0 runs in this process only.
  parallel=(-n "${TEST_PROCESSES:-2}")
  echo "=================================================================="
  echo " make test: using PostgreSQL ($database_url) and Redis ($redis_url)"
  echo "=================================================================="
elif [ "${REQUIRE_SERVICES:-0}" = 1 ]; then
  echo "make test: PostgreSQL or Redis is unreachable and REQUIRE_SERVICES=1; failing." >&2
  exit 1
else
  unset DATABASE_URL REDIS_URL CELERY_BROKER_URL
  parallel=()  # the file cache and broker are one per checkout: one test process
  echo "=================================================================="
  echo " make test: PostgreSQL/Redis NOT reachable -> EMBEDDED DEFAULT"
  echo " (SQLite + file cache + filesystem broker)"
  echo "=================================================================="
fi

# Exit code 5 means "no tests collected": pytest already reports it as a failure.
exec "$venv/bin/pytest" \
  --cov=tradeplatform --cov=accounts --cov=strategies --cov=backtesting \
  --cov-report=term:skip-covered --cov-fail-under=70 ${parallel[@]+"${parallel[@]}"} "$@"
