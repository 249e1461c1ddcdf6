"""django-prometheus' SQLite wrapper, creating the database file's directory on connect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django_prometheus.db.backends.sqlite3.base import DatabaseWrapper as PrometheusWrapper


class DatabaseWrapper(PrometheusWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        database = str(conn_params["database"])
        # In-memory and `file:` URI databases have no directory of ours to make.
        if not database.startswith("file:") and not self.creation.is_in_memory_db(database):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        return super().get_new_connection(conn_params)
