"""Two gunicorn instances with the project's config on one host (issue 10, section 6).

gunicorn's control socket (`gunicornc`) defaulted to one path per user ($XDG_RUNTIME_DIR or
~/.gunicorn/gunicorn.ctl): the second instance took it over, the first could no longer be
controlled, and whichever stopped first removed the socket of the other.
"""

from __future__ import annotations

import re
import time
import urllib.request

import pytest
from gunicorn.ctl.client import ControlClient

from tests.tradeplatform.gunicorn_server import Gunicorn, gunicorn_start, gunicorn_stop

pytestmark = pytest.mark.django_db
WAIT_SECONDS = 30.0  # a bound on waiting for a log line, not a timing assertion


def control_socket_of(server: Gunicorn) -> str:
    """Where this instance says its control socket listens (gunicorn logs it once started)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not (match := re.search(r"Control socket listening at (\S+)", server.log())):
        if time.monotonic() > deadline:
            pytest.fail(f"gunicorn never logged its control socket:\n{server.log()[-3000:]}")
        time.sleep(0.2)
    return match.group(1)


def master_pid_via_control_socket(path: str) -> int:
    with ControlClient(path, timeout=10) as control:
        return int(control.send_command("show stats")["pid"])


def test_two_instances_on_one_host_both_serve_and_each_keeps_its_control_socket(tmp_path):
    # Both share one home directory, as two services of one user do: the host-wide default.
    env = {"HOME": str(tmp_path / "home"), "XDG_RUNTIME_DIR": ""}
    first = gunicorn_start(tmp_path / "first", env)
    try:
        second = gunicorn_start(tmp_path / "second", env)
        try:
            for server in (first, second):
                with urllib.request.urlopen(server.url("/live"), timeout=10) as response:
                    assert response.status == 200
                socket_path = control_socket_of(server)
                assert master_pid_via_control_socket(socket_path) == server.process.pid
        finally:
            gunicorn_stop(second)
        # The second one's exit leaves the first one controllable.
        assert master_pid_via_control_socket(control_socket_of(first)) == first.process.pid
    finally:
        gunicorn_stop(first)
