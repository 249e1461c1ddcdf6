"""Per-request (and per-task) context that every log line carries.

contextvars, not thread-locals, so the values follow the request through threads
and async code and never leak from one request to the next.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
# Accept ids a proxy or client could reasonably send (UUIDs, trace ids); anything else
# is replaced so that log injection and absurd lengths never reach our logs.
_WELL_FORMED_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
user_id_var: ContextVar[int | None] = ContextVar("user_id", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def is_well_formed_request_id(candidate: str | None) -> bool:
    return bool(candidate) and bool(_WELL_FORMED_REQUEST_ID.match(candidate or ""))


def current_request_id() -> str | None:
    return request_id_var.get()
