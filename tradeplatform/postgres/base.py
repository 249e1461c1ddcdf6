"""The database backend: django-prometheus' PostgreSQL wrapper with OutageAwareConnectionPool."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.base import NO_DB_ALIAS
from django_prometheus.db.backends.postgresql.base import DatabaseWrapper as PrometheusWrapper
from psycopg_pool import ConnectionPool

from tradeplatform.postgres.pool import OutageAwareConnectionPool


class DatabaseWrapper(PrometheusWrapper):
    @property
    def pool(self) -> ConnectionPool[Any] | None:
        options = self.settings_dict["OPTIONS"].get("pool")
        if self.alias != NO_DB_ALIAS and options and self.alias not in self._connection_pools:
            # Registered first, Django's own property then finds it and returns it.
            self._connection_pools.setdefault(self.alias, self._new_pool(options))
        return super().pool

    def _new_pool(self, options: dict[str, Any] | bool) -> OutageAwareConnectionPool:
        # As Django builds its pool (django/db/backends/postgresql/base.py), another class.
        if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
            raise ImproperlyConfigured("Pooling doesn't support persistent connections.")
        connect_kwargs = self.get_connection_params()
        connect_kwargs["autocommit"] = True  # Django sets the real mode on each checkout
        check = (
            ConnectionPool.check_connection if self.settings_dict["CONN_HEALTH_CHECKS"] else None
        )
        return OutageAwareConnectionPool(
            kwargs=connect_kwargs,
            open=False,  # opened by the first connection, as Django does
            configure=self._configure_connection,
            check=check,
            **(options if isinstance(options, dict) else {}),  # `"pool": True`: the defaults
        )
