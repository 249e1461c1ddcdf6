"""REST API of robustness runs (mounted under /api/v1/). Thin: parse, call one service, shape."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsTrader, IsTraderOrReadOnly, IsViewer
from backtesting.robustness import selectors, services
from backtesting.robustness.models import RobustnessKind
from backtesting.robustness.serializers import (
    RobustnessRunDetailOutputSerializer,
    RobustnessRunOutputSerializer,
)
from backtesting.selectors import backtest_get
from tradeplatform.openapi import paginated

TAGS = ["robustness"]


class RobustnessListCreateApi(APIView):
    permission_classes = [IsTraderOrReadOnly]

    class InputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=RobustnessKind.choices)
        # Bounds per kind are the service's (400 with the field named): n_runs, method,
        # mean_block_length (Monte Carlo), n_strategies (random entry), n_checks, seed.
        parameters = serializers.DictField(required=False, default=dict)

    @extend_schema(tags=TAGS, responses=paginated(RobustnessRunOutputSerializer))
    def get(self, request: Request, pk: int) -> Response:
        backtest = backtest_get(user=request.user, pk=pk)
        runs = selectors.robustness_list(user=request.user, backtest=backtest)
        paginator = PageNumberPagination()
        page: list[Any] | None = paginator.paginate_queryset(runs, request, view=self)
        return paginator.get_paginated_response(RobustnessRunOutputSerializer(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        request=InputSerializer,
        responses={202: RobustnessRunOutputSerializer, 400: None, 404: None, 409: None},
    )
    def post(self, request: Request, pk: int) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = services.robustness_submit(
            owner=request.user,
            backtest=backtest_get(user=request.user, pk=pk),
            **serializer.validated_data,
        )
        location = reverse("api-robustness-detail", args=[run.pk])
        return Response(
            RobustnessRunOutputSerializer(run).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": location},
        )


class RobustnessDetailApi(APIView):
    permission_classes = [IsViewer]

    @extend_schema(tags=TAGS, responses=RobustnessRunDetailOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        run = selectors.robustness_get(user=request.user, pk=pk, with_result=True)
        return Response(RobustnessRunDetailOutputSerializer(run).data)


class RobustnessCancelApi(APIView):
    permission_classes = [IsTrader]

    @extend_schema(
        tags=TAGS, request=None, responses={202: RobustnessRunOutputSerializer, 409: None}
    )
    def post(self, request: Request, pk: int) -> Response:
        run = services.robustness_cancel(run=selectors.robustness_get(user=request.user, pk=pk))
        return Response(RobustnessRunOutputSerializer(run).data, status=status.HTTP_202_ACCEPTED)
