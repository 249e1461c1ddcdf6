"""A test-only URLconf with views that fail in every way the envelope must cover."""

from django.urls import include, path
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, Throttled
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from tradeplatform.errors import ConflictError, RateLimitedError
from tradeplatform.urls import handler400, handler403, handler404, handler500  # noqa: F401


class EchoInput(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=1)


class ValidatingApi(APIView):
    permission_classes = [AllowAny]

    def post(self, request):
        data = EchoInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(data.validated_data)


class PrivateApi(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"ok": True})


class ForbiddenApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise PermissionDenied()


class ThrottledApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise Throttled(wait=17.2)


class DomainRateLimitedApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RateLimitedError("Slow down.", retry_after=42)


class ConflictApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise ConflictError("Already running.")


class CrashingApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("secret-db-password=hunter2 leaked in a message")


def crashing_page(request):
    raise RuntimeError("secret-db-password=hunter2 leaked in a page")


urlpatterns = [
    path("api/t/validate/", ValidatingApi.as_view()),
    path("api/t/private/", PrivateApi.as_view()),
    path("api/t/forbidden/", ForbiddenApi.as_view()),
    path("api/t/throttled/", ThrottledApi.as_view()),
    path("api/t/limited/", DomainRateLimitedApi.as_view()),
    path("api/t/conflict/", ConflictApi.as_view()),
    path("api/t/crash/", CrashingApi.as_view()),
    path("page/crash/", crashing_page),
    path("", include("tradeplatform.urls")),
]
