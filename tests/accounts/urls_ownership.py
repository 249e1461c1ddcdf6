"""A test-only URLconf: the ownership helpers and permission classes behind real views."""

from __future__ import annotations

from django.urls import path
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.ownership import OwnedQuerySet, get_editable_or_404, get_visible_or_404
from accounts.permissions import IsOperator, IsOwnerOrOperator, IsTraderOrReadOnly


class DeviceQuerySet(OwnedQuerySet):
    owner_field = "user"
    shared_field = "confirmed"


def _things() -> DeviceQuerySet:
    return DeviceQuerySet(model=TOTPDevice)


class ThingApi(APIView):
    permission_classes = [IsOwnerOrOperator]
    owner_attr = "user"
    shared_attr = "confirmed"

    def get(self, request: Request, pk: int) -> Response:
        thing = get_visible_or_404(_things(), request.user, pk=pk)
        self.check_object_permissions(request, thing)
        return Response({"id": thing.pk})

    def patch(self, request: Request, pk: int) -> Response:
        thing = get_editable_or_404(_things(), request.user, pk=pk)
        self.check_object_permissions(request, thing)
        return Response({"id": thing.pk})


class TraderOnlyApi(APIView):
    permission_classes = [IsTraderOrReadOnly]

    def get(self, request: Request) -> Response:
        return Response({})

    def post(self, request: Request) -> Response:
        return Response({})


class OperatorOnlyApi(APIView):
    permission_classes = [IsOperator]

    def get(self, request: Request) -> Response:
        return Response({})


urlpatterns = [
    path("things/<int:pk>/", ThingApi.as_view()),
    path("trader-only/", TraderOnlyApi.as_view()),
    path("operator-only/", OperatorOnlyApi.as_view()),
]
