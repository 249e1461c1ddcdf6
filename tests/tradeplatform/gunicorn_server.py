"""A real gunicorn with the project's config on a free port, spoken to over raw sockets.

Some defects only exist in the real stack (what gunicorn does with a body the app did not
read, headers on what WhiteNoise serves), so these tests start the server the way
deploy/dev/serve.sh does and write HTTP/1.1 by hand: a client library would hide exactly
what is tested (keep-alive, chunked framing, a connection closed by the server).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from django.db import connection

PROJECT_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0  # a loaded 2-core box may take a while to import Django twice


@dataclass
class Gunicorn:
    process: subprocess.Popen[bytes]
    port: int
    var_dir: Path
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def session_database_url() -> str:
    """DATABASE_URL of the database this test session uses (pytest-django's test database)."""
    db = connection.settings_dict
    if connection.vendor != "postgresql":
        return ""
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db['HOST']}:{db.get('PORT') or 5432}/{db['NAME']}"


def gunicorn_start(tmp: Path, env: dict[str, str] | None = None) -> Gunicorn:
    """Start gunicorn with deploy/gunicorn.conf.py in its own VAR_DIR; return once it serves."""
    port = free_port()
    var_dir = tmp / "var"
    var_dir.mkdir(parents=True, exist_ok=True)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    full_env.update(
        DJANGO_ENV="test",
        VAR_DIR=str(var_dir),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="1",
        GUNICORN_THREADS="2",
        DB_POOL_SIZE="1",
    )
    if database_url := session_database_url():
        full_env["DATABASE_URL"] = database_url
    full_env.update(env or {})
    log_path = tmp / f"gunicorn-{port}.log"
    command = [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "tradeplatform.wsgi"],
            cwd=PROJECT_ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Gunicorn(process, port, var_dir, log_path)
    try:
        _wait_until_serving(server)
    except BaseException:
        gunicorn_stop(server)
        raise
    return server


def gunicorn_stop(server: Gunicorn) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)


def _wait_until_serving(server: Gunicorn) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited early:\n{server.log()[-4000:]}")
        try:
            with urllib.request.urlopen(server.url("/live"), timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not serve within {START_TIMEOUT}s:\n{server.log()[-4000:]}")


def connect(server: Gunicorn) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def request_bytes(
    method: str, path: str, *, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    """One HTTP/1.1 request; Content-Length is added for a body unless a header says otherwise."""
    all_headers = {"Host": "127.0.0.1", **(headers or {})}
    if body and "Transfer-Encoding" not in all_headers and "Content-Length" not in all_headers:
        all_headers["Content-Length"] = str(len(body))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in all_headers.items()
    )
    return head.encode("latin-1") + b"\r\n" + body


def read_response(sock: socket.socket) -> RawResponse | None:
    """Read one response (Content-Length framed); None if the server closed without one."""
    try:
        buffer = _read_until(sock, b"", b"\r\n\r\n")
    except ConnectionError:
        return None
    head, _, rest = buffer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        key = name.strip().lower()  # a repeated header (Set-Cookie) keeps every value
        headers[key] = f"{headers[key]}\n{value.strip()}" if key in headers else value.strip()
    status = int(status_line.split()[1])
    if headers.get("transfer-encoding", "").lower() == "chunked":
        return RawResponse(status, headers, _read_chunked(sock, rest))
    length = int(headers.get("content-length", "0"))
    return RawResponse(status, headers, _read_at_least(sock, rest, length)[:length])


def _read_chunked(sock: socket.socket, buffer: bytes) -> bytes:
    body = b""
    while True:
        buffer = _read_until(sock, buffer, b"\r\n")
        size_line, _, buffer = buffer.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return body
        buffer = _read_at_least(sock, buffer, size + 2)
        body, buffer = body + buffer[:size], buffer[size + 2 :]


def _read_until(sock: socket.socket, buffer: bytes, marker: bytes) -> bytes:
    while marker not in buffer:
        chunk = _recv(sock)
        if not chunk:
            raise ConnectionError("the server closed the connection mid-response")
        buffer += chunk
    return buffer


def _read_at_least(sock: socket.socket, buffer: bytes, size: int) -> bytes:
    while len(buffer) < size:
        chunk = _recv(sock)
        if not chunk:
            break
        buffer += chunk
    return buffer


def server_closed(sock: socket.socket) -> bool:
    """Whether the server has closed this connection (EOF or reset) within the socket timeout."""
    try:
        return _recv(sock) == b""
    except TimeoutError:
        return False


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        return b""


def exchange(server: Gunicorn, raw_request: bytes) -> RawResponse:
    """Send one request on a fresh connection and read its response."""
    with connect(server) as sock:
        sock.sendall(raw_request)
        response = read_response(sock)
    assert response is not None, "the server closed the connection without answering"
    return response
