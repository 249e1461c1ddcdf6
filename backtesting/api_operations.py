"""Operator endpoints: the dead letters of every job kind, listed and requeued."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsOperator
from backtesting import services
from backtesting.models import DeadLetter
from tradeplatform.errors import NotFoundError
from tradeplatform.openapi import paginated


class DeadLetterOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    task_name = serializers.CharField()
    task_args = serializers.ListField()
    backtest = serializers.IntegerField(source="backtest_id", allow_null=True)
    delivery = serializers.IntegerField(source="delivery_id", allow_null=True)
    error = serializers.CharField()
    request_id = serializers.CharField()
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    requeued_at = serializers.DateTimeField(allow_null=True)


class DeadLetterListApi(APIView):
    permission_classes = [IsOperator]

    @extend_schema(tags=["operations"], responses=paginated(DeadLetterOutputSerializer))
    def get(self, request: Request) -> Response:
        paginator = PageNumberPagination()
        page: list[Any] | None = paginator.paginate_queryset(
            DeadLetter.objects.all(), request, view=self
        )
        return paginator.get_paginated_response(DeadLetterOutputSerializer(page, many=True).data)


class DeadLetterRequeueApi(APIView):
    permission_classes = [IsOperator]

    @extend_schema(
        tags=["operations"], request=None, responses={202: DeadLetterOutputSerializer, 409: None}
    )
    def post(self, request: Request, pk: int) -> Response:
        letter = DeadLetter.objects.filter(pk=pk).first()
        if letter is None:
            raise NotFoundError()
        letter = services.dead_letter_requeue(dead_letter=letter, user=request.user)
        return Response(DeadLetterOutputSerializer(letter).data, status=status.HTTP_202_ACCEPTED)
