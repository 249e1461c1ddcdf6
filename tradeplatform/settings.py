"""Settings for every environment: one code path, the environment decides.

DJANGO_ENV is one of dev, test, staging, prod (prod when unset: production-correct by
default, dev and test only relax). With no service URLs the app runs on an embedded
default (SQLite, a file cache shared by all processes, Celery over the filesystem).
"""

from __future__ import annotations

import copy
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ

from tradeplatform import redis_sentinel, xdist_isolation
from tradeplatform.config_checks import (
    ConfigSnapshot,
    find_configuration_problems,
    format_problems,
)
from tradeplatform.logging import build_logging_config
from tradeplatform.postgres.budget import (
    celery_pool_and_concurrency,
    default_pool_bounds,
    detect_process_kind,
    pool_bounds_from_env,
)

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A git-ignored .env is read for local convenience; real environment variables win.
# DOTENV_FILE names another file, or is empty to read none: the test suite sets it empty so
# the .env that `make run` writes never leaks into the processes the tests start.
_dotenv = env.str("DOTENV_FILE", default=str(BASE_DIR / ".env"))
if _dotenv:
    environ.Env.read_env(_dotenv, overwrite=False)

ENVIRONMENT = env.str("DJANGO_ENV", default="prod")
IS_DEV = ENVIRONMENT == "dev"
IS_TEST = ENVIRONMENT == "test"
IS_STRICT = ENVIRONMENT in ("staging", "prod")

# DEBUG only ever defaults on in dev; staging/prod refuse to start with it on.
DEBUG = env.bool("DEBUG", default=IS_DEV)
SECRET_KEY = env.str(
    "SECRET_KEY", default="" if IS_STRICT else "dev-insecure-secret-key-" + "x" * 40
)
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if IS_STRICT else ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

DATABASE_URL = env.str("DATABASE_URL", default="")
REDIS_URL = env.str("REDIS_URL", default="")
# Without its own URL the broker is Redis when configured; filesystem is the embedded default.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL
# SQLite, file cache, broker and logs live here. Importing settings creates nothing: each
# directory is made by what uses it (the SQLite backend on connect, the file cache on write,
# the Celery app for the broker folders, the log file handler).
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
# pytest-xdist: each test process has Redis databases of its own (tradeplatform/xdist_isolation).
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "") if IS_TEST else ""
if _xdist_worker and not env.bool("TP_XDIST_REDIS_ASSIGNED", default=False):
    from django.core.exceptions import ImproperlyConfigured

    if not REDIS_URL:
        raise ImproperlyConfigured(
            "the embedded default (file cache and broker) runs the tests in one process: "
            "drop -n, or point REDIS_URL and CELERY_BROKER_URL at Redis"
        )
    try:
        REDIS_URL, CELERY_BROKER_URL = xdist_isolation.redis_urls_for_process(
            REDIS_URL,
            CELERY_BROKER_URL,
            worker=_xdist_worker,
            worker_count=int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")),
        )
    except xdist_isolation.IsolationError as exc:
        raise ImproperlyConfigured(str(exc)) from exc
    # Celery reads CELERY_BROKER_URL from the environment before its setting, and the processes
    # a test starts (Celery workers, gunicorn) inherit the environment: all must use this
    # process's databases. The marker keeps a child that inherits it all from moving them again.
    os.environ.update(
        REDIS_URL=REDIS_URL, CELERY_BROKER_URL=CELERY_BROKER_URL, TP_XDIST_REDIS_ASSIGNED="1"
    )
# A load run (benchmarks/load) drives many simulated clients through one host: this factor
# multiplies both rate limits so the run measures the app, not the limiter. Refused in prod.
RATELIMIT_LOAD_TEST_FACTOR = env.int("RATELIMIT_LOAD_TEST_FACTOR", default=1)

_problems = find_configuration_problems(
    ConfigSnapshot(
        environment=ENVIRONMENT,
        debug=DEBUG,
        secret_key=SECRET_KEY,
        allowed_hosts=tuple(ALLOWED_HOSTS),
        database_url=DATABASE_URL,
        redis_url=REDIS_URL,
        broker_url=CELERY_BROKER_URL,
        ratelimit_load_test_factor=RATELIMIT_LOAD_TEST_FACTOR,
    )
)
if _problems and not env.bool("CONFIG_CHECK_DEFER", default=False):
    # One message naming every problem, before anything else can half-start.
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(format_problems(ENVIRONMENT, _problems))
if not SECRET_KEY:
    # CONFIG_CHECK_DEFER=1 lets `manage.py check --deploy` list the problems as system checks;
    # a placeholder keeps Django importable long enough to do so (and is itself flagged).
    SECRET_KEY = "change-me"  # noqa: S105 - flagged by check E003, never usable

INSTALLED_APPS = [
    "django_prometheus",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "tradeplatform.apps.TradePlatformConfig",
    # accounts: TOTP two-factor (django-otp), required for operators and superusers.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "accounts",
    "strategies",
    "backtesting.marketdata.apps.MarketdataConfig",
    "backtesting",
    "backtesting.optimization.apps.OptimizationConfig",
    "backtesting.robustness.apps.RobustnessConfig",
    "backtesting.walkforward.apps.WalkForwardConfig",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "tradeplatform.middleware.RequestIdMiddleware",
    "tradeplatform.middleware.AccessLogMiddleware",
    "tradeplatform.middleware.SecurityHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Outside every middleware that answers early (static files, 429, 411): all get the header.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "tradeplatform.middleware.RequestGuardMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Read replica: per-request routing state; outside the session so its writes count.
    "tradeplatform.db_router.ReplicaPinMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # accounts: marks request.user verified when this session passed TOTP (user.is_verified()).
    "django_otp.middleware.OTPMiddleware",
    # Probes never load a session user; an HTML view's database outage answers the 503 page.
    "tradeplatform.database_outage.DatabaseOutageMiddleware",
    # accounts: per-IP/per-user API rate limit over the shared cache (tradeplatform/ratelimit.py).
    "tradeplatform.ratelimit.ApiRateLimitMiddleware",
    "tradeplatform.middleware.RequestUserContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "tradeplatform.middleware.ApiErrorMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "tradeplatform.urls"
WSGI_APPLICATION = "tradeplatform.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: PostgreSQL with psycopg 3's pool when DATABASE_URL is set, else SQLite ---
# Each process's pool is sized for its kind (tradeplatform/postgres/budget.py), so the whole
# fleet fits the server's max_connections: docs/operations.md, "Scaling and the connection budget".
PROCESS_KIND = detect_process_kind(os.environ, sys.argv)
_celery_pool, _celery_concurrency = celery_pool_and_concurrency(sys.argv, os.environ)
DB_POOL_BOUNDS = pool_bounds_from_env(
    default_pool_bounds(
        PROCESS_KIND,
        web_threads=env.int("GUNICORN_THREADS", default=4),
        celery_pool=_celery_pool,
        celery_concurrency=_celery_concurrency,
    ),
    min_size=env.int("DB_POOL_MIN_SIZE", default=env.int("DB_POOL_SIZE", default=None)),
    max_size=env.int("DB_POOL_MAX_SIZE", default=None),
    overflow=env.int("DB_POOL_OVERFLOW", default=None),
)
# "pgbouncer": PgBouncer in transaction mode in front of PostgreSQL. A transaction may land
# on any server connection, so nothing may outlive it: no server-side cursors (iterator()
# fetches client-side in chunks) and no prepared statements.
DATABASE_POOLER = env.str("DATABASE_POOLER", default="")
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
# A statement running longer than this (a locked table, an overloaded server) is cancelled and
# the request answers 503: below gunicorn's 30 s timeout, so a slow database costs the client an
# envelope, not a dropped connection and a killed worker. Web processes only by default (0: off):
# a worker's bar load may rightly take longer. Not sent through PgBouncer (set it on the role).
DB_STATEMENT_TIMEOUT = env.float(
    "DB_STATEMENT_TIMEOUT", default=20.0 if PROCESS_KIND == "web" else 0.0
)


def _postgres_database(url_env: str) -> dict[str, Any]:
    db: dict[str, Any] = env.db_url(url_env)
    # django-prometheus' backend on a pool that fails fast in an outage and reconnects within
    # seconds after it (tradeplatform/postgres/pool.py).
    db["ENGINE"] = "tradeplatform.postgres"
    db["OPTIONS"] = {
        "pool": {
            "min_size": DB_POOL_BOUNDS.min_size,
            "max_size": DB_POOL_BOUNDS.max_size,
            # Recycle connections hourly so server-side memory and stale state do not accumulate.
            "max_lifetime": env.float("DB_POOL_MAX_LIFETIME", default=3600.0),
            # How long a request waits for a free connection before a 503: short, so an outage
            # or an exhausted pool frees web threads fast. Workers may set it longer.
            "timeout": env.float("DB_POOL_TIMEOUT", default=3.0),
            # While the database is down, retry at least this often (not 1, 2, 4 ... 128 s)...
            "reconnect_max_delay": env.float("DB_POOL_RECONNECT_MAX_DELAY", default=2.0),
            # ...and refuse requests at once rather than let each wait out the timeout.
            "fail_fast": env.bool("DB_POOL_FAIL_FAST", default=True),
        },
        # libpq's connect timeout (whole seconds, 2 at least): a blackholed host costs 3 s.
        "connect_timeout": env.int("DB_CONNECT_TIMEOUT", default=3),
    }
    if DB_STATEMENT_TIMEOUT > 0 and DATABASE_POOLER != "pgbouncer":
        db["OPTIONS"]["options"] = f"-c statement_timeout={round(DB_STATEMENT_TIMEOUT * 1000)}"
    if DATABASE_POOLER == "pgbouncer":
        db["OPTIONS"]["prepare_threshold"] = None  # Django's default too; said explicitly
        db["OPTIONS"]["server_side_binding"] = False
        db["DISABLE_SERVER_SIDE_CURSORS"] = True
    db["CONN_MAX_AGE"] = 0  # pooling replaces persistent connections
    # Django passes ConnectionPool.check_connection to the pool: every connection is probed
    # before it is handed out, so a restarted server costs no failed request.
    db["CONN_HEALTH_CHECKS"] = True
    return db


if DATABASE_POOLER not in ("", "pgbouncer"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"DATABASE_POOLER={DATABASE_POOLER!r}; expected '' or 'pgbouncer'")
if DATABASE_URL:
    _db = _postgres_database("DATABASE_URL")
    _db["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default=f"test_{_db['NAME']}")}
    DATABASES = {"default": _db}
    # A read replica (tradeplatform/db_router.py): web reads go there unless the user wrote
    # moments ago. The test suite gets a "replica" that mirrors the test database, so the
    # router's tests run on two aliases; it is read from only where a test turns reads on.
    if DATABASE_REPLICA_URL:
        DATABASES["replica"] = _postgres_database("DATABASE_REPLICA_URL")
    elif IS_TEST:
        DATABASES["replica"] = copy.deepcopy(_db)
    if "replica" in DATABASES:
        DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
        DATABASE_ROUTERS = ["tradeplatform.db_router.PrimaryReplicaRouter"]
else:
    DATABASES = {
        "default": {
            # django-prometheus' backend, making VAR_DIR on connect (tradeplatform/sqlite).
            "ENGINE": "tradeplatform.sqlite",
            "NAME": VAR_DIR / "tradeplatform.sqlite3",
            "OPTIONS": {
                # WAL lets the web process read while the worker writes; IMMEDIATE takes the
                # write lock at BEGIN so two writers queue instead of deadlocking mid-transaction.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            "TEST": {"NAME": VAR_DIR / "test_tradeplatform.sqlite3"},
        }
    }

# Only web processes read from the replica: a worker's claims, leases and sweeps, a command's
# work and beat always read the primary. A user who wrote reads the primary for this long.
DATABASE_REPLICA_READS = env.bool(
    "DATABASE_REPLICA_READS", default=bool(DATABASE_REPLICA_URL) and PROCESS_KIND == "web"
)
DATABASE_REPLICA_PIN_SECONDS = env.int("DATABASE_REPLICA_PIN_SECONDS", default=10)

# --- Cache: shared by every process (rate limits, job progress, breaker state) ---
# REDIS_URL may name Redis behind Sentinel (sentinel://..., tradeplatform/redis_sentinel.py).
REDIS_SENTINEL_PASSWORD = env.str("REDIS_SENTINEL_PASSWORD", default="")
_redis_options: dict[str, Any] = {
    "CLIENT_CLASS": "django_redis.client.DefaultClient",
    "CONNECTION_POOL_KWARGS": {"max_connections": env.int("REDIS_POOL_SIZE", default=50)},
    "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_CONNECT_TIMEOUT", default=2.0),
    "SOCKET_TIMEOUT": env.float("REDIS_SOCKET_TIMEOUT", default=2.0),
}
_redis_location: str | list[str] = REDIS_URL
if redis_sentinel.is_sentinel_url(REDIS_URL):
    _cache_sentinel = redis_sentinel.parse_sentinel_url(REDIS_URL)
    _redis_location = redis_sentinel.cache_location(_cache_sentinel)
    _redis_options.update(
        redis_sentinel.cache_options(_cache_sentinel, sentinel_password=REDIS_SENTINEL_PASSWORD)
    )
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_prometheus.cache.backends.redis.RedisCache",
            "LOCATION": _redis_location,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="tp"),
            "OPTIONS": _redis_options,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django_prometheus.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="tp"),
        }
    }

# Sessions live in the database, never only in the cache: a Redis outage or flush must sign
# nobody out (tests/tradeplatform/test_redis_sentinel.py signs in with the cache down).
SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- Celery: JSON only, late acks, one task prefetched per process ---
# "localhost" only names the transport's (unused) host; without it kombu warns on every connect.
CELERY_BROKER_URL = CELERY_BROKER_URL or "filesystem://localhost//"
CELERY_BROKER_DIR = VAR_DIR / "broker"
# Redis keeps an unacknowledged message for visibility_timeout, then hands it out again: it
# must outlast the longest task (BACKTEST_TIME_LIMIT), or a running job gets a duplicate.
_redis_broker_options: dict[str, object] = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
}
if redis_sentinel.is_sentinel_url(CELERY_BROKER_URL):
    # Celery reads the CELERY_BROKER_URL environment variable as is: only a broker that
    # follows REDIS_URL can be translated to kombu's form here (tradeplatform/redis_sentinel.py).
    try:
        CELERY_BROKER_URL, _broker_master = redis_sentinel.broker_sentinel(
            CELERY_BROKER_URL,
            master=env.str("CELERY_BROKER_SENTINEL_MASTER", default=""),
            url_from_environment=bool(env.str("CELERY_BROKER_URL", default="")),
        )
    except ValueError as exc:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(str(exc)) from exc
    _redis_broker_options.update(
        redis_sentinel.broker_transport_options(
            _broker_master, sentinel_password=REDIS_SENTINEL_PASSWORD
        )
    )
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = (
    {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        # Fanout (broadcast) exchanges; kombu's default is ./control in the working directory.
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else _redis_broker_options
)
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=3.0)
# Publishing jobs (backtesting/jobs/lifecycle.py): after this many broker errors in a row a
# process stops trying for RESET_TIMEOUT seconds, then one trial publish decides. Jobs submitted
# meanwhile stay `queued` and the recovery sweep publishes them; requests never wait on a dead
# broker's connect timeout.
BROKER_PUBLISH_BREAKER_FAIL_MAX = env.int("BROKER_PUBLISH_BREAKER_FAIL_MAX", default=3)
BROKER_PUBLISH_BREAKER_RESET_TIMEOUT = env.float(
    "BROKER_PUBLISH_BREAKER_RESET_TIMEOUT", default=10.0
)
# Broker outages: a worker reconnects for as long as it takes, at start too. Celery's default
# gives up after 100 attempts (about 45 minutes of outage) and the worker exits for good.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# A task running when the connection drops runs on: its row's claim turns any redelivered copy
# into a no-op, and cancelling it would throw the work away (the default, said explicitly).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True  # job state lives on our own rows, not in a result backend
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=330)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HEARTBEAT_SECONDS = env.int("CELERY_WORKER_HEARTBEAT_SECONDS", default=10)
# Separate queues so one user's optimization sweep cannot starve everyone's single runs;
# deploy/dev/serve.sh consumes all of them, production runs a worker pool per queue.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "backtesting.backtest_execute": {"queue": "backtests"},
    "backtesting.optimization_*": {"queue": "optimizations"},
    "backtesting.robustness_*": {"queue": "optimizations"},
    "backtesting.walkforward_*": {"queue": "optimizations"},
    "backtesting.webhook_deliver": {"queue": "notifications"},
    "backtesting.backtest_email": {"queue": "notifications"},
}

# --- Backtest jobs (backtesting/, backtesting/jobs): limits, leases, retries, webhooks ---
# Task limits: the soft one becomes a `failed` job with a clear message; the hard one kills.
BACKTEST_SOFT_TIME_LIMIT = env.int("BACKTEST_SOFT_TIME_LIMIT", default=600)
BACKTEST_TIME_LIMIT = env.int("BACKTEST_TIME_LIMIT", default=BACKTEST_SOFT_TIME_LIMIT + 30)
# Sandbox limits per run; the wall clock stays under the soft limit so the sandbox says why.
BACKTEST_SANDBOX_CPU_SECONDS = env.int("BACKTEST_SANDBOX_CPU_SECONDS", default=300)
BACKTEST_SANDBOX_WALL_SECONDS = env.float("BACKTEST_SANDBOX_WALL_SECONDS", default=540.0)
BACKTEST_SANDBOX_MEMORY_MB = env.int("BACKTEST_SANDBOX_MEMORY_MB", default=1024)
# A running job renews its lease; a `running` row with an expired lease was left by a dead
# worker and may be claimed again by the redelivered message. Renewed every third of it (a
# primary-key UPDATE): a shorter lease recovers a dead worker's job sooner, for more writes.
BACKTEST_LEASE_SECONDS = env.int("BACKTEST_LEASE_SECONDS", default=30)
BACKTEST_PROGRESS_INTERVAL_SECONDS = env.float("BACKTEST_PROGRESS_INTERVAL_SECONDS", default=0.25)
BACKTEST_CANCEL_POLL_SECONDS = env.float("BACKTEST_CANCEL_POLL_SECONDS", default=0.5)
# Retries are for infrastructure outages only (database, broker), with jittered backoff.
BACKTEST_MAX_RETRIES = env.int("BACKTEST_MAX_RETRIES", default=5)
BACKTEST_RETRY_BACKOFF_SECONDS = env.float("BACKTEST_RETRY_BACKOFF_SECONDS", default=2.0)
BACKTEST_RETRY_BACKOFF_MAX_SECONDS = env.float("BACKTEST_RETRY_BACKOFF_MAX_SECONDS", default=300.0)
# A job claimed this many times without finishing (retries, lost workers, re-publishes) ends
# `failed` and dead-lettered: no job loops forever. Above the retries, so those run first.
BACKTEST_MAX_ATTEMPTS = env.int("BACKTEST_MAX_ATTEMPTS", default=BACKTEST_MAX_RETRIES + 3)
# Fairness across workers: one user runs at most this many jobs at once (0: no limit); a job
# over it waits in the queue, coming back every ~DEFER seconds, while others' jobs run.
BACKTEST_USER_MAX_RUNNING = env.int("BACKTEST_USER_MAX_RUNNING", default=1)
# A sweep's chunks are one user's job cut into pieces: they may hold this many worker slots at
# once (0: no limit), so a sweep uses a second worker while other users' jobs still get theirs.
OPTIMIZATION_USER_MAX_RUNNING = env.int("OPTIMIZATION_USER_MAX_RUNNING", default=2)
# The most combinations one sweep may run (a grid over it is refused with the count).
OPTIMIZATION_MAX_COMBINATIONS = env.int("OPTIMIZATION_MAX_COMBINATIONS", default=5_000)
BACKTEST_FAIRNESS_DEFER_SECONDS = env.float("BACKTEST_FAIRNESS_DEFER_SECONDS", default=3.0)
# Recovery of jobs whose message was lost (whole worker killed, web died before publishing,
# a broker restarted without persistence): every worker sweeps the rows every interval (a
# cache lock lets one of them do it) and re-publishes `running` rows with an expired lease
# and `queued` rows older than REQUEUE_AFTER. A lost job is back within LEASE + INTERVAL
# (running, 45 s) or REQUEUE_AFTER + INTERVAL (queued, 60 s). Shorter is faster recovery for
# more sweeps and, while a legitimate backlog waits longer than REQUEUE_AFTER, one duplicate
# message per queued job per REQUEUE_AFTER (it does nothing: the claim refuses it). Keep
# REQUEUE_AFTER above the largest retry countdown (32 s with the defaults above), or a retry
# waiting out its backoff gets an immediate duplicate.
BACKTEST_RECOVERY_INTERVAL_SECONDS = env.float("BACKTEST_RECOVERY_INTERVAL_SECONDS", default=15.0)
BACKTEST_REQUEUE_AFTER_SECONDS = env.float("BACKTEST_REQUEUE_AFTER_SECONDS", default=45.0)
# How often every worker sets the queue-depth gauge (tradeplatform_queue_depth) from the rows.
JOB_QUEUE_DEPTH_INTERVAL_SECONDS = env.float("JOB_QUEUE_DEPTH_INTERVAL_SECONDS", default=5.0)
# Webhooks: HTTPS only outside dev/test; private/loopback targets only if an operator allows.
WEBHOOK_REQUIRE_HTTPS = env.bool("WEBHOOK_REQUIRE_HTTPS", default=IS_STRICT)
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env.bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", default=False)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5.0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=5)

# --- Passwords: Argon2 first, bcrypt accepted for imported hashes ---
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if IS_TEST:
    # Hashing cost is not what the suite tests; MD5 keeps factories fast. Never outside tests.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files: served by WhiteNoise from one directory, no CDN (CSP and offline users) ---
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if IS_STRICT
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
MEDIA_ROOT = VAR_DIR / "media"
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)

# --- Email: console in dev/test, SMTP from EMAIL_URL in staging/prod ---
if env.str("EMAIL_URL", default=""):
    _email = env.email_url("EMAIL_URL")
    EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    EMAIL_HOST = _email.get("EMAIL_HOST", "")
    EMAIL_PORT = _email.get("EMAIL_PORT", 25)
    EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
    EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
elif IS_TEST:
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="tradeplatform <noreply@localhost>")

# --- Security: strict everywhere, HTTPS-only settings in staging/prod ---
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = IS_STRICT
CSRF_COOKIE_SECURE = IS_STRICT
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=IS_STRICT)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if IS_STRICT else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = IS_STRICT
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=IS_STRICT)
# Behind a TLS-terminating proxy, trust its scheme header only when told to.
if env.bool("TRUST_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^live$", r"^ready$", r"^health$", r"^metrics$"]
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

# --- REST framework: JWT or session auth, one error envelope, schema by drf-spectacular ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # accounts: SimpleJWT + token_version revocation + the otp_verified claim.
        "accounts.authentication.TokenVersionJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["tradeplatform.parsers.JSONParser"],  # DRF's, depth-bounded
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "tradeplatform.openapi.TradePlatformAutoSchema",
    "EXCEPTION_HANDLER": "tradeplatform.exception_handler.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ]

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default=SECRET_KEY),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "tradeplatform API",
    "DESCRIPTION": "Strategies, market data and backtests. Errors share one JSON envelope.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Accounts: sign-up switch, 2FA, quotas, rate limits (accounts, tradeplatform/ratelimit.py) ---
# Off: operators invite users (`manage.py user_invite` or the admin) instead of open sign-up.
REGISTRATION_OPEN = env.bool("REGISTRATION_OPEN", default=True)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="tradeplatform")
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)  # reset links, seconds
# Limits per role; env QUOTA_<ROLE>_<KIND>, a negative value means unlimited. Viewers run no code.
_QUOTA_DEFAULTS = {
    "viewer": {"strategies": 0, "concurrent_backtests": 0, "daily_backtests": 0},
    "trader": {"strategies": 50, "concurrent_backtests": 2, "daily_backtests": 200},
    "operator": {"strategies": 500, "concurrent_backtests": 10, "daily_backtests": 5000},
}


def _quota(role: str, kind: str, default: int) -> int | None:
    value = env.int(f"QUOTA_{role.upper()}_{kind.upper()}", default=default)
    return None if value < 0 else value


QUOTAS = {
    role: {kind: _quota(role, kind, default) for kind, default in kinds.items()}
    for role, kinds in _QUOTA_DEFAULTS.items()
}
QUOTA_CONCURRENT_RETRY_AFTER_SECONDS = env.int("QUOTA_CONCURRENT_RETRY_AFTER_SECONDS", default=30)
# Rate limits are counted in the shared cache so they hold across processes and machines.
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
RATELIMIT_USE_CACHE = "default"
RATELIMIT_IP_META_KEY = "tradeplatform.ratelimit.client_ip"  # django-ratelimit asks us for the IP


def _scaled_rate(rate: str) -> str:
    count, _, period = rate.partition("/")
    return f"{int(count) * RATELIMIT_LOAD_TEST_FACTOR}/{period}"


RATELIMIT_API_RATE = _scaled_rate(env.str("RATELIMIT_API_RATE", default="60/m"))  # per IP, user
RATELIMIT_AUTH_RATE = _scaled_rate(env.str("RATELIMIT_AUTH_RATE", default="5/m"))  # login, reset
# X-Forwarded-For is trusted only for this many proxies in front of us (0: REMOTE_ADDR only).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
LOGIN_LOCKOUT_FAILURES = env.int("LOGIN_LOCKOUT_FAILURES", default=10)  # per account or IP
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=900)

# --- Observability: JSON logs, request timing, Prometheus ---
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_DIR = Path(env.str("LOG_DIR", default=str(VAR_DIR / "log")))
LOG_TO_FILES = env.bool("LOG_TO_FILES", default=IS_STRICT)
LOG_FILE_MAX_BYTES = env.int("LOG_FILE_MAX_BYTES", default=10 * 1024 * 1024)
LOG_FILE_BACKUPS = env.int("LOG_FILE_BACKUPS", default=10)
SLOW_REQUEST_MS = env.int("SLOW_REQUEST_MS", default=1000)
SLOW_OPERATION_MS = env.int("SLOW_OPERATION_MS", default=1000)
# Applied by django.setup() in web and worker alike (Celery keeps it: tradeplatform/celery.py).
LOGGING = build_logging_config(
    level=LOG_LEVEL,
    log_dir=LOG_DIR if LOG_TO_FILES else None,
    max_bytes=LOG_FILE_MAX_BYTES,
    backups=LOG_FILE_BACKUPS,
)

METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"])
METRICS_BEARER_TOKEN = env.str("METRICS_BEARER_TOKEN", default="")
PROMETHEUS_EXPORT_MIGRATIONS = False  # /metrics must stay cheap; /ready checks migrations

HEALTH_DISK_MIN_FREE_BYTES = env.int("HEALTH_DISK_MIN_FREE_BYTES", default=500 * 1024 * 1024)
HEALTH_WORKERS_CRITICAL = env.bool("HEALTH_WORKERS_CRITICAL", default=False)

# --- Backups (`manage.py backup` / `restore`, tradeplatform/backups): where, how many kept ---
# A directory (a mounted volume) or s3://bucket/prefix; BACKUP_KEEP=0 keeps every backup.
BACKUP_DIR = env.str("BACKUP_DIR", default=str(VAR_DIR / "backups"))
BACKUP_KEEP = env.int("BACKUP_KEEP", default=14)

# --- Market data (backtesting.marketdata): imports, the bar cache, providers and their breaker ---
# Rows per COPY chunk / bulk batch: bounds memory per round trip, the import stays one transaction.
MARKETDATA_IMPORT_BATCH_SIZE = env.int("MARKETDATA_IMPORT_BATCH_SIZE", default=50_000)
MARKETDATA_MAX_UPLOAD_BYTES = env.int("MARKETDATA_MAX_UPLOAD_BYTES", default=50 * 1024 * 1024)
# Cache keys carry the series' data version, so entries are never stale; the timeout and the
# size cap only bound memory (a cached million-bar series is ~48 MB of raw column bytes).
MARKETDATA_CACHE_TIMEOUT = env.int("MARKETDATA_CACHE_TIMEOUT", default=6 * 3600)
MARKETDATA_CACHE_MAX_BYTES = env.int("MARKETDATA_CACHE_MAX_BYTES", default=64 * 1024 * 1024)
# Each process also keeps the series it read last in memory, up to this many bytes of arrays:
# a worker running the same data again makes no cache round trip (marketdata/selectors.py).
MARKETDATA_LOCAL_CACHE_BYTES = env.int("MARKETDATA_LOCAL_CACHE_BYTES", default=32 * 1024 * 1024)
# Daily bars over HTTP (Stooq's CSV endpoint); tests point it at a loopback fault server.
MARKETDATA_STOOQ_BASE_URL = env.str("MARKETDATA_STOOQ_BASE_URL", default="https://stooq.com")
MARKETDATA_HTTP_TIMEOUT = env.float("MARKETDATA_HTTP_TIMEOUT", default=10.0)
MARKETDATA_HTTP_ATTEMPTS = env.int("MARKETDATA_HTTP_ATTEMPTS", default=4)
MARKETDATA_HTTP_BACKOFF_INITIAL = env.float("MARKETDATA_HTTP_BACKOFF_INITIAL", default=0.5)
MARKETDATA_HTTP_BACKOFF_MAX = env.float("MARKETDATA_HTTP_BACKOFF_MAX", default=30.0)
# Circuit breaker (state in the shared cache, so all processes fail fast together).
MARKETDATA_BREAKER_FAIL_MAX = env.int("MARKETDATA_BREAKER_FAIL_MAX", default=5)
MARKETDATA_BREAKER_RESET_TIMEOUT = env.float("MARKETDATA_BREAKER_RESET_TIMEOUT", default=60.0)
