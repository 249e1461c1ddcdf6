"""A database outage through the Django stack: 503 answers that need no database themselves.

The same behaviour against a really stopped PostgreSQL under gunicorn is in
tests/chaos/test_database_outage.py; these run in milliseconds with the outage simulated.
"""

import socket
from unittest import mock

import psycopg
import pytest
from django.test import RequestFactory
from django.utils.functional import SimpleLazyObject

from tests.tradeplatform.urls_database_outage import outage_error, statement_timeout_error
from tradeplatform import health, views
from tradeplatform.postgres.outage import is_database_unavailable

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.tradeplatform.urls_database_outage")]

SESSION_LOAD = "django.contrib.sessions.backends.db.SessionStore.load"


def assert_database_unavailable_envelope(response) -> None:
    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == "dependency_unavailable"
    assert error["request_id"] == response["X-Request-ID"]
    assert int(response["Retry-After"]) > 0
    assert "couldn't get a connection" not in response.content.decode()


def assert_database_unavailable_page(response) -> None:
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert int(response["Retry-After"]) > 0
    body = response.content.decode()
    assert "temporarily unavailable" in body
    assert response["X-Request-ID"] in body
    assert "Traceback" not in body


def test_an_api_view_meeting_a_database_outage_answers_503_dependency_unavailable(client, caplog):
    with caplog.at_level("WARNING"):
        response = client.get("/api/t/database-down/")
    assert_database_unavailable_envelope(response)
    # One warning line, no traceback, and no error-level line from Django on top of it.
    warnings = [r for r in caplog.records if r.name == "tradeplatform.database"]
    assert len(warnings) == 1 and warnings[0].exc_info is None
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_a_statement_cancelled_by_the_statement_timeout_answers_503_not_500(client):
    # DB_STATEMENT_TIMEOUT fired: the database is too slow to answer now (a lock, overload);
    # the client may retry, it is not our bug to page about with a traceback.
    assert_database_unavailable_envelope(client.get("/api/t/slow-query/"))


def test_a_page_meeting_a_database_outage_gets_the_503_page(client):
    assert_database_unavailable_page(client.get("/page/database-down/"))


def test_a_signed_in_page_gets_the_503_page_when_its_session_cannot_be_loaded(
    client, owner, django_assert_num_queries
):
    client.force_login(owner)
    client.raise_request_exception = False  # Django reports what handler500 handled
    with (
        mock.patch(SESSION_LOAD, side_effect=outage_error()),
        django_assert_num_queries(0),  # the error page itself needs no database
    ):
        response = client.get("/strategies/")
    assert_database_unavailable_page(response)


def test_a_signed_in_api_call_gets_the_envelope_when_its_session_cannot_be_loaded(client, owner):
    client.force_login(owner)
    client.raise_request_exception = False
    with mock.patch(SESSION_LOAD, side_effect=outage_error()):
        response = client.get("/api/v1/strategies/")
    assert_database_unavailable_envelope(response)


def test_live_with_a_signed_in_session_cookie_touches_no_database(
    client, owner, django_assert_num_queries
):
    client.force_login(owner)
    with django_assert_num_queries(0):
        response = client.get("/live")
    assert response.status_code == 200


def test_ready_does_not_ask_the_migrations_of_a_database_that_is_down(client):
    with mock.patch.object(health, "probe_database", side_effect=outage_error()):
        response = client.get("/ready")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"]["status"] == "down"
    assert checks["migrations"] == {
        "status": "down",
        "critical": True,
        "latency_ms": 0.0,
        "error": "database unavailable",
    }


def test_the_500_page_renders_even_when_the_user_cannot_be_loaded():
    request = RequestFactory().get("/strategies/")
    request.user = SimpleLazyObject(lambda: (_ for _ in ()).throw(outage_error()))
    request.request_id = "ref-500-0123456789"
    response = views.server_error(request)
    assert response.status_code == 500
    assert "ref-500-0123456789" in response.content.decode()


def _refused_connection_error() -> psycopg.OperationalError:
    with socket.socket() as sock:  # a port nothing listens on once this socket closes
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    try:
        psycopg.connect(host="127.0.0.1", port=port, user="x", connect_timeout=2)
    except psycopg.OperationalError as exc:
        return exc
    raise AssertionError("a closed port accepted a connection")


@pytest.mark.parametrize(
    ("make_error", "unavailable"),
    [
        (outage_error, True),  # the pool gave up waiting
        (_refused_connection_error, True),  # nothing listens: no SQLSTATE
        (lambda: psycopg.errors.AdminShutdown("terminating connection"), True),
        (lambda: psycopg.errors.CannotConnectNow("the database system is starting up"), True),
        (lambda: psycopg.InterfaceError("the connection is closed"), True),
        (statement_timeout_error, True),  # DB_STATEMENT_TIMEOUT: too slow to answer now
        (lambda: psycopg.errors.LockNotAvailable("could not obtain lock"), False),
        (lambda: RuntimeError("a bug"), False),
    ],
)
def test_what_counts_as_the_database_being_unavailable(make_error, unavailable):
    assert is_database_unavailable(make_error()) is unavailable
