"""REST API of walk-forwards (mounted under /api/v1/). Thin: parse, call one service, shape."""

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
from backtesting.optimization.api import OptimizationListCreateApi, _input
from backtesting.walkforward import selectors, services
from backtesting.walkforward.models import WalkForward, WindowMode
from backtesting.walkforward.serializers import (
    WalkForwardDetailOutputSerializer,
    WalkForwardOutputSerializer,
    WalkForwardSummarySerializer,
    WalkForwardWindowOutputSerializer,
)
from tradeplatform.openapi import paginated

TAGS = ["walkforwards"]


class WalkForwardListCreateApi(APIView):
    permission_classes = [IsTraderOrReadOnly]

    class InputSerializer(OptimizationListCreateApi.InputSerializer):
        # The sweep's fields (space: grid or random only), then the windows, in bars.
        mode = serializers.ChoiceField(choices=WindowMode.choices, default=WindowMode.ROLLING)
        in_sample_bars = serializers.IntegerField(min_value=1, max_value=1_000_000)
        out_of_sample_bars = serializers.IntegerField(min_value=1, max_value=1_000_000)
        step_bars = serializers.IntegerField(
            min_value=1,
            max_value=1_000_000,
            required=False,
            help_text="Defaults to out_of_sample_bars (back-to-back out-of-sample windows).",
        )

    @extend_schema(tags=TAGS, responses=paginated(WalkForwardOutputSerializer))
    def get(self, request: Request) -> Response:
        paginator = PageNumberPagination()
        rows = selectors.walkforward_list(user=request.user)
        page: list[Any] | None = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(WalkForwardOutputSerializer(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        request=InputSerializer,
        responses={202: WalkForwardOutputSerializer, 400: None, 404: None, 409: None},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        walkforward = services.walkforward_submit(
            owner=request.user,
            data=services.WalkForwardInput(
                sweep=_input(request, data),
                mode=data["mode"],
                in_sample_bars=data["in_sample_bars"],
                out_of_sample_bars=data["out_of_sample_bars"],
                step_bars=data.get("step_bars") or data["out_of_sample_bars"],
            ),
        )
        location = reverse("api-walkforward-detail", args=[walkforward.pk])
        return Response(
            WalkForwardOutputSerializer(walkforward).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": location},
        )


def walkforward_detail_data(walkforward: WalkForward) -> dict[str, Any]:
    """The detail body: the job, its windows so far and, once finished, summary and curve."""
    result = walkforward.result_or_none
    windows = selectors.walkforward_windows(walkforward=walkforward)
    return {
        **WalkForwardOutputSerializer(walkforward).data,
        "windows": WalkForwardWindowOutputSerializer(windows, many=True).data,
        "summary": WalkForwardSummarySerializer(result.summary).data if result else None,
        "curve": result.curve if result else None,
    }


class WalkForwardDetailApi(APIView):
    permission_classes = [IsViewer]

    @extend_schema(tags=TAGS, responses=WalkForwardDetailOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        walkforward = selectors.walkforward_get(user=request.user, pk=pk, with_result=True)
        return Response(walkforward_detail_data(walkforward))


class WalkForwardCancelApi(APIView):
    permission_classes = [IsTrader]

    @extend_schema(tags=TAGS, request=None, responses={202: WalkForwardOutputSerializer, 409: None})
    def post(self, request: Request, pk: int) -> Response:
        walkforward = services.walkforward_cancel(
            walkforward=selectors.walkforward_get(user=request.user, pk=pk)
        )
        return Response(
            WalkForwardOutputSerializer(walkforward).data, status=status.HTTP_202_ACCEPTED
        )
