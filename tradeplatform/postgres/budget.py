"""The connection budget: how many PostgreSQL connections each kind of process may hold.

Every process has its own pool, so the server sees (processes x pool maximum) connections at
worst. A pool is sized for the threads of its process that can use the database at once:

- web (a gunicorn worker): one per thread (GUNICORN_THREADS), one kept open;
- worker (a Celery process): a prefork pool process runs one task at a time, so one; the
  main process's services (the recovery sweep, the queue-depth gauge) take turns with one
  plain connection of their own (worker_services.py), so a worker node needs its
  concurrency + 1. A threads pool needs one per thread;
- beat: one; command (manage.py, the recovery CronJob): two;
- test (the pytest process): ten, for live_server's threads.

The kind comes from TP_PROCESS_KIND (the entrypoints set it: deploy/gunicorn.conf.py,
deploy/dev/supervise.py), else from the command line. docs/operations.md has the formula.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath

PROCESS_KINDS = ("web", "worker", "beat", "command", "test")
THREADED_CELERY_POOLS = ("threads", "gevent", "eventlet")


@dataclass(frozen=True)
class PoolBounds:
    min_size: int
    max_size: int


def detect_process_kind(environ: Mapping[str, str], argv: Sequence[str]) -> str:
    """TP_PROCESS_KIND when set (validated), else a guess from the command line."""
    explicit = environ.get("TP_PROCESS_KIND", "").strip().lower()
    if explicit:
        if explicit not in PROCESS_KINDS:
            raise ValueError(f"TP_PROCESS_KIND={explicit!r}; expected one of {PROCESS_KINDS}")
        return explicit
    program = PurePath(argv[0]).name if argv else ""
    # `python -m celery` runs .../celery/__main__.py; `python -m pytest` .../pytest/__main__.py.
    parent = PurePath(argv[0]).parent.name if argv else ""
    args = list(argv[1:])
    if "gunicorn" in (program, parent) or program == "uwsgi":
        return "web"
    if "celery" in (program, parent):
        return "beat" if "beat" in args else "worker" if "worker" in args else "command"
    if program in ("pytest", "py.test") or parent in ("pytest", "_pytest", "xdist"):
        return "test"
    if program == "manage.py":
        return "web" if args[:1] == ["runserver"] else "command"
    return "web"  # another WSGI server importing the app: a web process's budget


def celery_pool_and_concurrency(argv: Sequence[str], environ: Mapping[str, str]) -> tuple[str, int]:
    """The worker's pool implementation and concurrency as its command line says."""
    pool = _option(argv, ("-P", "--pool")) or "prefork"
    concurrency = _option(argv, ("-c", "--concurrency")) or environ.get("CELERY_CONCURRENCY", "")
    return pool, int(concurrency) if concurrency.isdigit() else 1


def _option(argv: Sequence[str], names: tuple[str, ...]) -> str:
    for index, arg in enumerate(argv):
        for name in names:
            if arg == name and index + 1 < len(argv):
                return argv[index + 1]
            if arg.startswith(f"{name}="):
                return arg.split("=", 1)[1]
    return ""


def default_pool_bounds(
    kind: str, *, web_threads: int, celery_pool: str, celery_concurrency: int
) -> PoolBounds:
    """The pool of one process of `kind` (see the module docstring for why)."""
    if kind == "web":
        return PoolBounds(1, max(web_threads, 1))
    if kind == "worker":
        per_process = celery_concurrency if celery_pool in THREADED_CELERY_POOLS else 1
        return PoolBounds(1, max(per_process, 1))
    if kind == "beat":
        return PoolBounds(1, 1)
    if kind == "command":
        return PoolBounds(1, 2)
    return PoolBounds(1, 10)


def pool_bounds_from_env(
    defaults: PoolBounds,
    *,
    min_size: int | None,
    max_size: int | None,
    overflow: int | None,
) -> PoolBounds:
    """Apply DB_POOL_MIN_SIZE (or the older DB_POOL_SIZE), DB_POOL_MAX_SIZE, DB_POOL_OVERFLOW.

    An explicit maximum wins; else minimum + overflow when an overflow is given; else the
    kind's maximum, raised to the minimum if that is larger (psycopg requires max >= min).
    """
    low = defaults.min_size if min_size is None else min_size
    if max_size is not None:
        high = max_size
    elif overflow is not None:
        high = low + overflow
    else:
        high = defaults.max_size
    return PoolBounds(low, max(high, low, 1))
