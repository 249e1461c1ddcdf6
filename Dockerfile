# syntax=docker/dockerfile:1
# One image for every role of tradeplatform: web (gunicorn), worker and beat (Celery), migrate
# and any manage.py command, chosen by the command (deploy/docker/entrypoint.sh).
#
#   docker build -t tradeplatform .
#   docker run --rm tradeplatform help
#
# Base images are pinned by tag. This Dockerfile was written and linted on a machine that
# cannot run Docker or reach a registry, so no digest could be verified here: CI pins them by
# digest when it builds (docs/deployment.md, "Image"). bookworm, not the newer default: the
# sandbox loads Debian's python3-seccomp binding into our Python 3.11, and bookworm is the
# Debian release whose python3-seccomp is built for 3.11 (seccomp.cpython-311-*.so).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

# --- assets: the browser libraries, as `make install` builds them (no CDN, CSP 'self') ---
FROM ${NODE_IMAGE} AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
COPY static/src/ static/src/
# The same copies and esbuild bundle as the Makefile's install target (keep the two in step).
RUN mkdir -p static/vendor/lightweight-charts static/vendor/echarts static/vendor/codemirror \
 && cp node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.mjs \
       node_modules/lightweight-charts/LICENSE static/vendor/lightweight-charts/ \
 && cp node_modules/echarts/dist/echarts.esm.min.mjs node_modules/echarts/LICENSE \
       static/vendor/echarts/ \
 && node_modules/.bin/esbuild static/src/codemirror-bundle.js --bundle --format=esm --minify \
       --legal-comments=eof --log-level=warning --outfile=static/vendor/codemirror/codemirror.mjs

# --- builder: wheels for every runtime requirement, installed into a virtualenv ---
FROM ${PYTHON_IMAGE} AS builder
# Build tools only for the rare requirement without a wheel; they stay in this stage.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential libpq-dev \
 && rm -rf /var/lib/apt/lists/*
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements.txt /tmp/requirements.txt
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip wheel --wheel-dir /tmp/wheels -r /tmp/requirements.txt \
 && /opt/venv/bin/pip install --no-index --find-links /tmp/wheels -r /tmp/requirements.txt
# The engine's compiled kernel, with the Makefile's `kernel` flags (keep the two in step):
# -std=c11 -ffp-contract=off keep Python's float arithmetic exactly; never -ffast-math or
# -march=native (the image runs on other CPUs than the builder's).
COPY backtesting/engine/kernel.c /opt/kernel/kernel.c
RUN gcc -std=c11 -O2 -ffp-contract=off -fno-fast-math -fPIC -shared -Wall -Wextra -Werror \
      -o /opt/kernel/libkernel.so /opt/kernel/kernel.c -lm

# --- runtime: slim, non-root, no compiler, no secrets ---
FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=dev
ARG VCS_REF=unknown
LABEL org.opencontainers.image.title="tradeplatform" \
      org.opencontainers.image.description="Strategies, market data and sandboxed backtests (Django, Celery)" \
      org.opencontainers.image.source="https://github.com/tradeplatform/tradeplatform" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${VCS_REF}" \
      org.opencontainers.image.licenses="UNLICENSED"
# bubblewrap jails each strategy run; python3-seccomp is the libseccomp binding the sandbox
# loads by path from /usr/lib/python3/dist-packages (backtesting/sandbox/seccomp_filter.py);
# it pulls in Debian's python3, which nothing else uses. tini reaps the worker's children.
# postgresql-client gives `manage.py backup`/`restore` pg_dump and pg_restore (bookworm's 15,
# the server major the compose file and docs/deployment.md name; a newer server needs the
# client of its own major).
# Versions come from the pinned Debian release (bookworm's security updates included).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap python3-seccomp tini postgresql-client \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 app \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin app
COPY --from=builder /opt/venv /opt/venv
# APP_VERSION names the release in backup manifests (the image has no .git to ask).
# TP_REQUIRE_KERNEL: an image without the engine's compiled kernel fails at start, not slowly.
ENV APP_VERSION=${VERSION} \
    TP_REQUIRE_KERNEL=1 \
    PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_ENV=prod \
    DOTENV_FILE= \
    VAR_DIR=/app/var \
    LOG_TO_FILES=0 \
    GUNICORN_BIND=0.0.0.0:8000 \
    GUNICORN_CONTROL_SOCKET=/tmp/gunicorn.ctl \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus
WORKDIR /app
# Code and static files belong to root and are read-only for the app user: a compromised
# process cannot rewrite what it runs. Only /tmp must be writable (docs/deployment.md).
COPY . /app/
COPY --from=assets /src/static/vendor/ /app/static/vendor/
COPY --from=builder /opt/kernel/libkernel.so /app/backtesting/engine/libkernel.so
# Static files are collected at build time with no secret at all: CONFIG_CHECK_DEFER lets the
# prod settings load without SECRET_KEY/ALLOWED_HOSTS/service URLs for this one command (the
# placeholder key it uses is refused at run time). The manifest storage of staging/prod needs
# DJANGO_ENV=prod here. The filesystem broker folders it creates are removed again.
RUN CONFIG_CHECK_DEFER=1 python manage.py collectstatic --noinput --verbosity 0 \
 && rm -rf /app/var/broker /app/var/log \
 && python -m compileall -q /app/tradeplatform /app/accounts /app/strategies /app/backtesting
USER 10001:10001
EXPOSE 8000 9808
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "/app/deploy/docker/healthcheck.py"]
ENTRYPOINT ["/usr/bin/tini", "--", "/app/deploy/docker/entrypoint.sh"]
CMD ["web"]
