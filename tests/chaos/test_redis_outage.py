"""Redis (cache and rate-limit counters) killed under a running gunicorn, then started again.

What docs/operations.md ("Redis Sentinel", "While the cache is unreachable") promises:
the app keeps serving reads and writes, nobody is signed out (sessions are in the database),
the rate limiter fails OPEN, sign-in fails CLOSED (503: without counters password guessing
would be unthrottled), `/ready` and `/health` report the cache down. When Redis is back
everything works again without restarting anything. The tests run in file order: up, down,
back. The server runs with a low API rate so the limiter is seen to engage.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from tests.chaos.conftest import HttpAnswer, Server, Stack, wait_for

pytestmark = pytest.mark.slow

RATE = 10  # RATELIMIT_API_RATE for this server, per minute
RECOVERY_BOUND_SECONDS = 10.0  # generous: redis-py reconnects on the next command


@pytest.fixture(scope="module")
def server(stack: Stack) -> Server:
    return stack.start_server(env={"RATELIMIT_API_RATE": f"{RATE}/m"})


@pytest.fixture(scope="module")
def gunicorn_workers(server: Server) -> list[int]:
    """The worker pids before anything broke: recovery must happen in these processes."""
    return server.worker_pids()


@pytest.fixture(scope="module")
def redis_stopped(stack: Stack, server: Server, gunicorn_workers: list[int]) -> Iterator[None]:
    stack.redis.kill()
    yield


def api_sign_in(server: Server) -> HttpAnswer:
    credentials = {"username": server.credentials["username"],
                   "password": server.credentials["password"]}  # fmt: skip
    return server.request("POST", "/api/v1/auth/token/", body=credentials)


def form_sign_in(server: Server) -> HttpAnswer:
    """The browser's way: the form page for its CSRF token and cookie, then the POST."""
    page = server.get("/accounts/login/")
    assert page.status == 200, page.text[:300]
    cookie = re.search(r"csrftoken=([^;]+)", page.headers["Set-Cookie"]).group(1)  # type: ignore[union-attr]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    form = {"csrfmiddlewaretoken": token, "username": server.credentials["username"],
            "password": server.credentials["password"]}  # fmt: skip
    return server.request("POST", "/accounts/login/", form=form,
                          headers={"Cookie": f"csrftoken={cookie}"})  # fmt: skip


def assert_the_limiter_engages(server: Server) -> None:
    """Within one window no more than RATE API requests pass; the next is a 429 envelope.

    The window is fixed (django-ratelimit): a burst that straddles its end starts counting
    again, so a second burst is tried; two boundaries a minute apart cannot fall in both.
    """
    for _burst in range(2):
        answers = [server.api("GET", "/api/v1/strategies/") for _ in range(RATE + 1)]
        statuses = [answer.status for answer in answers]
        if 429 in statuses:
            first = statuses.index(429)
            assert set(statuses[:first]) == {200}, statuses
            limited = answers[first]
            assert int(limited.headers["Retry-After"]) > 0
            assert limited.json()["error"]["code"] == "rate_limited"
            return
    pytest.fail(f"no 429 in two bursts of {RATE + 1} requests at {RATE}/m: {statuses}")


def test_with_redis_up_both_sign_ins_work_and_the_limiter_engages(server):
    answer = api_sign_in(server)
    assert answer.status == 200, answer.text
    assert {"access", "refresh"} <= set(answer.json())
    form = form_sign_in(server)
    assert form.status == 302 and "sessionid=" in form.headers.get("Set-Cookie", "")
    assert_the_limiter_engages(server)


def test_reads_and_signed_in_pages_keep_working(server, redis_stopped):
    answer = server.api("GET", "/api/v1/strategies/")
    assert answer.status == 200, answer.text
    assert server.credentials["strategy"] in [item["id"] for item in answer.json()["results"]]
    page = server.page()
    assert page.status == 200 and "Strategies" in page.text  # nobody was signed out


def test_the_rate_limiter_fails_open(server, redis_stopped):
    statuses = [server.api("GET", "/api/v1/strategies/").status for _ in range(3 * RATE)]
    assert set(statuses) == {200}, statuses


def test_writes_are_stored_while_redis_is_down(server, stack, redis_stopped):
    assert server.clone_strategy("during the redis outage").status == 201
    assert stack.strategies_named("during the redis outage") == 1


def test_sign_in_fails_closed_with_a_503(server, redis_stopped):
    answer = api_sign_in(server)
    assert answer.status == 503, answer.text
    assert answer.json()["error"]["code"] == "dependency_unavailable"
    assert int(answer.headers["Retry-After"]) > 0  # as every dependency_unavailable answer
    assert "access" not in answer.text and "Traceback" not in answer.text
    form = form_sign_in(server)
    assert form.status == 503, form.text[:300]
    assert int(form.headers["Retry-After"]) > 0
    assert "sessionid=" not in form.headers.get("Set-Cookie", "")
    # A browser gets a page it can show, not the API's JSON envelope.
    assert form.headers["Content-Type"].startswith("text/html"), form.headers["Content-Type"]
    assert "temporarily unavailable" in form.text and "Traceback" not in form.text


@pytest.mark.parametrize("path", ["/ready", "/health"])
def test_ready_and_health_report_the_cache_down(server, redis_stopped, path):
    answer = server.get(path)
    assert answer.status == 503, answer.text
    checks = answer.json()["checks"]
    assert checks["cache"]["status"] == "down"
    assert checks["database"]["status"] == "up"


def test_when_redis_is_back_everything_recovers_in_the_same_processes(
    server, stack, gunicorn_workers
):
    stack.redis.start()
    back = time.monotonic()
    wait_for(lambda: server.get("/ready").status == 200, RECOVERY_BOUND_SECONDS, "/ready")
    wait_for(lambda: api_sign_in(server).status == 200, RECOVERY_BOUND_SECONDS, "sign-in")
    recovered = time.monotonic() - back
    print(f"\nredis back: /ready and sign-in answered 200 {recovered:.1f} s later")  # noqa: T201
    assert form_sign_in(server).status == 302
    health = server.get("/health").json()
    assert health["checks"]["cache"]["status"] == "up"
    assert_the_limiter_engages(server)
    assert server.worker_pids() == gunicorn_workers  # nothing was restarted
    assert stack.strategies_named("during the redis outage") == 1
