"""Redis databases of its own for each pytest-xdist process.

`make test` runs the suite in two pytest processes (pytest-xdist, docs/testing.md).
pytest-django gives each its own test database; this gives each its own Redis cache and broker
databases. Sharing them would break both processes: every test flushes the cache (rate-limit
counters, breaker state, recovery locks) and each process runs Celery workers of its own,
which would take the other's jobs.

Process "gw0" keeps the configured databases, "gw1" moves both up by two, and so on: the
default test databases 1 (cache) and 2 (broker) become 3 and 4 in the second process.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit, urlunsplit

STRIDE = 2
DATABASES_PER_SERVER = 16  # redis-server's default `databases`


class IsolationError(ValueError):
    """The URLs cannot be given one database each per process."""


def _database(url: str) -> tuple[int, SplitResult]:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise IsolationError(
            f"a {parts.scheme or 'schemeless'}:// Redis URL cannot be split between pytest-xdist "
            "processes; give redis:// URLs or run the tests in one process (-n 0)"
        )
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise IsolationError(f"the Redis URL's database {path!r} is not a number")
    return (int(path) if path else 0), parts


def process_index(worker: str) -> int:
    """0 for "gw0", 1 for "gw1", ... (pytest-xdist's PYTEST_XDIST_WORKER)."""
    if not (worker.startswith("gw") and worker[2:].isdigit()):
        raise IsolationError(f"unexpected pytest-xdist worker id {worker!r}")
    return int(worker[2:])


def redis_urls_for_process(
    cache_url: str, broker_url: str, *, worker: str, worker_count: int
) -> tuple[str, str]:
    """The cache and broker URLs of xdist process `worker` out of `worker_count`.

    Refuses (IsolationError) when two processes would share a database or a number would pass
    the server's 16 databases, rather than let the processes flush each other's state.
    """
    index = process_index(worker)
    cache_db, cache_parts = _database(cache_url)
    broker_db, broker_parts = _database(broker_url)
    used: dict[int, int] = {}
    for other in range(max(worker_count, index + 1)):
        for db in {cache_db + STRIDE * other, broker_db + STRIDE * other}:
            if db >= DATABASES_PER_SERVER:
                raise IsolationError(
                    f"{worker_count} pytest-xdist processes need Redis database {db}, past "
                    f"the server's {DATABASES_PER_SERVER}; use lower numbers or fewer processes"
                )
            if used.setdefault(db, other) != other:
                raise IsolationError(
                    f"Redis database {db} would be shared by two pytest-xdist processes: give the "
                    "cache and the broker consecutive databases (e.g. 1 and 2)"
                )
    shift = STRIDE * index

    def moved(parts: SplitResult, db: int) -> str:
        return urlunsplit(parts._replace(path=f"/{db + shift}"))

    return moved(cache_parts, cache_db), moved(broker_parts, broker_db)
