"""A test-only URLconf: views that meet a database outage, and one that meets a slow query."""

import psycopg
from django.db import OperationalError
from django.urls import include, path
from psycopg_pool import PoolTimeout
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from tradeplatform.urls import handler400, handler403, handler404, handler500  # noqa: F401


def outage_error() -> OperationalError:
    """What Django raises when the pool cannot hand out a connection: psycopg's error wrapped."""
    error = OperationalError("couldn't get a connection after 3.00 sec")
    error.__cause__ = PoolTimeout("couldn't get a connection after 3.00 sec")
    return error


def statement_timeout_error() -> OperationalError:
    error = OperationalError("canceling statement due to statement timeout")
    error.__cause__ = psycopg.errors.QueryCanceled("canceling statement due to statement timeout")
    return error


class DatabaseDownApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise outage_error()


class SlowQueryApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise statement_timeout_error()


def database_down_page(request):
    raise outage_error()


urlpatterns = [
    path("api/t/database-down/", DatabaseDownApi.as_view()),
    path("api/t/slow-query/", SlowQueryApi.as_view()),
    path("page/database-down/", database_down_page),
    path("", include("tradeplatform.urls")),
]
