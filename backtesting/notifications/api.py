"""Notification endpoints: a trader's webhooks, their deliveries and the email opt-in."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsTrader
from backtesting.notifications import selectors
from backtesting.notifications import services as notifications
from backtesting.notifications.models import Webhook
from tradeplatform.openapi import paginated, with_fields


class WebhookOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class WebhookCollectionApi(APIView):
    permission_classes = [IsTrader]

    class InputSerializer(serializers.Serializer):
        url = serializers.URLField(max_length=500)

    class CreatedSerializer(WebhookOutputSerializer):
        secret = serializers.CharField(help_text="Shown once: store it to verify signatures.")

    @extend_schema(tags=["notifications"], responses=WebhookOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        hooks = Webhook.objects.owned_by(request.user)
        return Response(WebhookOutputSerializer(hooks, many=True).data)

    @extend_schema(
        tags=["notifications"], request=InputSerializer, responses={201: CreatedSerializer}
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        hook = notifications.webhook_create(
            owner=request.user, url=serializer.validated_data["url"]
        )
        return Response(self.CreatedSerializer(hook).data, status=status.HTTP_201_CREATED)


class WebhookDetailApi(APIView):
    permission_classes = [IsTrader]

    @extend_schema(tags=["notifications"], responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        selectors.webhook_get(user=request.user, pk=pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeliveryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    backtest = serializers.IntegerField(source="backtest_id", allow_null=True)
    event = serializers.DictField()
    status = serializers.CharField()
    attempts = serializers.ListField(source="attempts_log")
    created_at = serializers.DateTimeField()


class WebhookDeliveryListApi(APIView):
    permission_classes = [IsTrader]

    @extend_schema(tags=["notifications"], responses=paginated(DeliveryOutputSerializer))
    def get(self, request: Request, pk: int) -> Response:
        webhook = selectors.webhook_get(user=request.user, pk=pk)
        paginator = PageNumberPagination()
        page: list[Any] | None = paginator.paginate_queryset(
            selectors.webhook_deliveries(webhook=webhook), request, view=self
        )
        return paginator.get_paginated_response(DeliveryOutputSerializer(page, many=True).data)


class NotificationPreferenceApi(APIView):
    permission_classes = [IsTrader]

    class InputSerializer(serializers.Serializer):
        email_on_finish = serializers.BooleanField()

    @extend_schema(
        tags=["notifications"],
        request=InputSerializer,
        responses=with_fields(
            InputSerializer, "NotificationPreferenceOutput", updated_at=serializers.DateTimeField()
        ),
    )
    def put(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pref = notifications.notification_preference_set(
            owner=request.user, **serializer.validated_data
        )
        return Response({"email_on_finish": pref.email_on_finish, "updated_at": timezone.now()})
