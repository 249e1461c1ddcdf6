"""CSV output for bar endpoints (the same rows as JSON, one bar per line)."""

from __future__ import annotations

import csv
import io
from typing import Any

from rest_framework.renderers import BaseRenderer

BAR_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")


class BarsCSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(BAR_COLUMNS)
        for row in (data or {}).get("results", []):
            writer.writerow([row[name] for name in BAR_COLUMNS])
        return buffer.getvalue().encode(self.charset)
