"""Exit 0 when both PostgreSQL and Redis answer at the given URLs within a second or two."""

import sys

import psycopg
import redis


def main(database_url: str, redis_url: str) -> int:
    try:
        with psycopg.connect(_maintenance_url(database_url), connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
    except Exception as exc:
        sys.stderr.write(f"service probe failed: {type(exc).__name__}: {exc}\n")
        return 1
    return 0


def _maintenance_url(database_url: str) -> str:
    # The named database may not exist yet; the test runner creates its own from "postgres".
    base, _, _name = database_url.rpartition("/")
    return f"{base}/postgres"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
