"""gunicorn settings for every environment; values come from the environment."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
# Our middleware writes one JSON access line per request; gunicorn's own would duplicate it.
accesslog = None
errorlog = "-"
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn's control socket (`gunicornc`) defaults to one path per user ($XDG_RUNTIME_DIR or
# ~/.gunicorn): a second instance on the host would take it over and remove it on exit. Each
# instance keeps its own in its data directory (the same VAR_DIR default as settings.py).
_VAR_DIR = Path(os.environ.get("VAR_DIR") or Path(__file__).resolve().parents[1] / "var")
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET") or str(_VAR_DIR / "gunicorn.ctl")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def on_starting(server: Any) -> None:
    """Remove Prometheus files left by processes of a previous run (running ones stay)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from tradeplatform.metrics_files import metrics_stale_files_remove

        metrics_stale_files_remove()


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges from the shared Prometheus directory."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from tradeplatform.metrics_files import metrics_process_forget

        metrics_process_forget(worker.pid)


def post_fork(server: Any, worker: Any) -> None:
    """Tell the settings this is a web process with this many threads: its database pool
    holds one connection per thread (tradeplatform/postgres/budget.py)."""
    os.environ.setdefault("TP_PROCESS_KIND", "web")
    os.environ["GUNICORN_THREADS"] = str(worker.cfg.threads)


def post_worker_init(worker: Any) -> None:
    worker.wsgi = close_after_unread_body(worker.wsgi)


def close_after_unread_body(app: WSGIApp) -> WSGIApp:
    """Close the connection after a response that left the request body unread.

    A 413, or a 411 for a chunked body, answers without reading the body. gunicorn then
    drains at most 64 KiB of it and, if more is left, drops the connection after a response
    that promised keep-alive, so the client's next request on it is lost. Such a response
    says `Connection: close` instead. gunicorn ignores a Connection header set by the app,
    so this asks gunicorn's own response object to close.
    """

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        body = _CountingInput(environ["wsgi.input"])
        environ["wsgi.input"] = body

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if not body.consumed_all(environ):
                force_close = getattr(
                    getattr(start_response, "__self__", None), "force_close", None
                )
                if force_close is not None:
                    force_close()
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return application


class _CountingInput:
    """wsgi.input that remembers how much of the body the app read."""

    def __init__(self, stream: Any) -> None:
        self._stream, self._read_bytes, self._at_end = stream, 0, False

    def read(self, size: int | None = -1) -> bytes:
        return self._count(self._stream.read(size), size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._count(self._stream.readline(size), size)

    def readlines(self, hint: int | None = None) -> list[bytes]:
        lines = self._stream.readlines(hint)
        self._read_bytes += sum(len(line) for line in lines)
        self._at_end = True
        return list(lines)

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def _count(self, data: bytes, size: int | None) -> bytes:
        self._read_bytes += len(data)
        if not data and size != 0:
            self._at_end = True
        return data

    def consumed_all(self, environ: dict[str, Any]) -> bool:
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            return self._at_end
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return self._at_end
        return self._at_end or self._read_bytes >= length
