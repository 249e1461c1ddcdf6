"""Redis behind Sentinel, for the cache (REDIS_URL) and the broker (CELERY_BROKER_URL).

REDIS_URL takes one URL naming every sentinel and the master:

    sentinel://[:password@]host1:26379[,host2:26379...]/<master name>[/<db>]

and a broker left unset follows it (same master, same db). Celery reads CELERY_BROKER_URL
from the environment as it is, before any setting, so a broker URL of its own must be
kombu's form, one URL per sentinel joined by ';', with the master named apart:

    CELERY_BROKER_URL=sentinel://[:password@]host1:26379/1;sentinel://host2:26379/1
    CELERY_BROKER_SENTINEL_MASTER=<master name>

The password is the Redis master's (the sentinels themselves take REDIS_SENTINEL_PASSWORD,
empty for none). The cache becomes django-redis' SentinelClient reading and writing the
master only (a replica could answer a cancel flag or a sweep lock with stale data), the
broker kombu's "sentinel" transport with the master name in its transport options. Both ask
the sentinels for the current master on every new connection, so a failover costs the
connections open at that moment, not the configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

SCHEME = "sentinel://"


@dataclass(frozen=True)
class SentinelUrl:
    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int
    password: str


def is_sentinel_url(url: str) -> bool:
    return url.startswith(SCHEME)


def parse_sentinel_url(url: str) -> SentinelUrl:
    """Raises ValueError naming what is missing or malformed."""
    parts = urlsplit(url)
    auth, _, hosts = parts.netloc.rpartition("@")
    password = unquote(auth.partition(":")[2]) if auth else ""
    sentinels = tuple(_host_port(item) for item in hosts.split(",") if item)
    path = [segment for segment in parts.path.split("/") if segment]
    if not sentinels or not path or len(path) > 2:
        raise ValueError(f"expected {SCHEME}[:password@]host:port[,host:port]/master[/db]")
    db = path[1] if len(path) == 2 else "0"
    if not db.isdigit():
        raise ValueError(f"the Redis database must be a number, not {db!r}")
    return SentinelUrl(sentinels, unquote(path[0]), int(db), password)


def _host_port(item: str) -> tuple[str, int]:
    host, _, port = item.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"a sentinel is host:port, not {item!r}")
    return host, int(port)


def cache_options(target: SentinelUrl, *, sentinel_password: str) -> dict[str, Any]:
    """OPTIONS of a django-redis cache whose LOCATION is `cache_location(target)`."""
    options: dict[str, Any] = {
        "CLIENT_CLASS": "django_redis.client.SentinelClient",
        "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
        "SENTINELS": list(target.sentinels),
        "SENTINEL_KWARGS": {"password": sentinel_password or None},
    }
    if target.password:
        options["PASSWORD"] = target.password
    return options


def cache_location(target: SentinelUrl) -> list[str]:
    # A list of one: SentinelClient would otherwise add a replica pool and read from it.
    return [f"redis://{quote(target.master)}/{target.db}"]


def broker_url(target: SentinelUrl) -> str:
    """kombu's form: one sentinel:// URL per sentinel, joined by ';' (failover between them)."""
    auth = f":{quote(target.password, safe='')}@" if target.password else ""
    return ";".join(
        f"sentinel://{auth}{host}:{port}/{target.db}" for host, port in target.sentinels
    )


def is_kombu_sentinel_url(url: str) -> bool:
    """kombu's form: every part's path is a database number (or empty), never a master name."""
    paths = [urlsplit(part).path.strip("/") for part in url.split(";")]
    return all(is_sentinel_url(part) for part in url.split(";")) and all(
        path.isdigit() or not path for path in paths
    )


def broker_sentinel(url: str, *, master: str, url_from_environment: bool) -> tuple[str, str]:
    """The broker URL in kombu's form and the master's name, from either form of `url`.

    Raises ValueError when Celery would read a REDIS_URL-form URL straight from the
    environment (it cannot be translated there) or when no master is named.
    """
    if not is_kombu_sentinel_url(url):
        if url_from_environment:
            raise ValueError(
                "CELERY_BROKER_URL: Celery reads it as is; write kombu's form "
                "(sentinel://host:26379/1;sentinel://host2:26379/1) and name the master in "
                "CELERY_BROKER_SENTINEL_MASTER, or leave it unset to follow REDIS_URL."
            )
        target = parse_sentinel_url(url)
        url, master = broker_url(target), master or target.master
    if not master:
        raise ValueError("CELERY_BROKER_SENTINEL_MASTER must name the Sentinel master.")
    return url, master


def broker_transport_options(master: str, *, sentinel_password: str) -> dict[str, Any]:
    options: dict[str, Any] = {"master_name": master}
    if sentinel_password:
        options["sentinel_kwargs"] = {"password": sentinel_password}
    return options
