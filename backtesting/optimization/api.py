"""REST API of parameter sweeps (mounted under /api/v1/). Thin: parse, call one service, shape."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsTrader, IsTraderOrReadOnly, IsViewer
from backtesting.api import BacktestOutputSerializer, CsvRenderer
from backtesting.api import _strategy_version as strategy_version_for
from backtesting.engine.research.ranking import DIRECTIONS, OBJECTIVES
from backtesting.optimization import selectors, services
from backtesting.optimization.models import Optimization, OptimizationResult, SpaceKind
from backtesting.optimization.serializers import (
    DeflatedSharpeSerializer,
    OptimizationDetailOutputSerializer,
    OptimizationOutputSerializer,
    OptimizationResultOutputSerializer,
)
from tradeplatform.errors import NotFoundError
from tradeplatform.openapi import paginated

TAGS = ["optimizations"]


class OptimizationListCreateApi(APIView):
    permission_classes = [IsTraderOrReadOnly]

    class InputSerializer(serializers.Serializer):
        strategy = serializers.IntegerField()
        version = serializers.IntegerField(required=False, min_value=1)
        instruments = serializers.ListField(
            child=serializers.CharField(max_length=32), min_length=1, max_length=20
        )
        # Plain text (backtest_submit's rules decide): a second enum named "timeframe" would
        # collide in the schema with the backtest input's.
        timeframe = serializers.CharField(max_length=8, help_text="As for a backtest, e.g. 1d.")
        start = serializers.DateTimeField()
        end = serializers.DateTimeField()
        parameters = serializers.DictField(
            required=False, default=dict, help_text="Values of the parameters not swept."
        )
        settings = serializers.DictField(required=False, default=dict)
        space = serializers.DictField(
            help_text='{"kind": "grid"|"random"|"tpe", "parameters": {name: {"min", "max", '
            '"step"} or {"values": [...]}}, "samples", "seed", "batch_size" (tpe)}.'
        )
        constraints = serializers.ListField(
            child=serializers.CharField(max_length=500),
            required=False,
            default=list,
            max_length=20,
        )
        objective = serializers.ChoiceField(choices=list(OBJECTIVES))
        direction = serializers.ChoiceField(choices=list(DIRECTIONS), default="max")
        min_trades = serializers.IntegerField(min_value=0, max_value=1_000_000, default=0)

    @extend_schema(tags=TAGS, responses=paginated(OptimizationOutputSerializer))
    def get(self, request: Request) -> Response:
        paginator = PageNumberPagination()
        rows = selectors.optimization_list(user=request.user)
        page: list[Any] | None = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(OptimizationOutputSerializer(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        request=InputSerializer,
        responses={202: OptimizationOutputSerializer, 400: None, 404: None},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        optimization = services.optimization_submit(owner=request.user, data=_input(request, data))
        location = reverse("api-optimization-detail", args=[optimization.pk])
        return Response(
            OptimizationOutputSerializer(optimization).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": location},
        )


def _input(request: Request, data: dict[str, Any]) -> services.OptimizationInput:
    return services.OptimizationInput(
        strategy_version=strategy_version_for(request, data["strategy"], data.get("version")),
        symbols=[s.strip().upper() for s in data["instruments"]],
        timeframe=data["timeframe"],
        start=data["start"],
        end=data["end"],
        parameters=data["parameters"],
        settings=data["settings"],
        space={"kind": SpaceKind.GRID, **data["space"]},
        constraints=data["constraints"],
        objective=data["objective"],
        direction=data["direction"],
        min_trades=data["min_trades"],
    )


def optimization_detail_data(optimization: Optimization) -> dict[str, Any]:
    """The detail body: the sweep, its counts, its best so far and its DSR (API and page)."""
    best = selectors.optimization_best_so_far(optimization=optimization)
    return {
        **OptimizationOutputSerializer(optimization).data,
        **selectors.optimization_counts(optimization=optimization),
        "best": OptimizationResultOutputSerializer(best).data if best else None,
        "deflated": DeflatedSharpeSerializer(optimization.deflated or {}).data,
    }


class OptimizationDetailApi(APIView):
    permission_classes = [IsViewer]

    @extend_schema(tags=TAGS, responses=OptimizationDetailOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        optimization = selectors.optimization_get(user=request.user, pk=pk)
        return Response(optimization_detail_data(optimization))


class OptimizationResultsApi(APIView):
    permission_classes = [IsViewer]
    renderer_classes = [JSONRenderer, CsvRenderer]

    class FilterSerializer(serializers.Serializer):
        sort = serializers.ChoiceField(choices=list(selectors.RESULT_SORTS), default="objective")
        order = serializers.ChoiceField(choices=["asc", "desc"], required=False)

    @extend_schema(
        tags=TAGS,
        parameters=[FilterSerializer, OpenApiParameter("format", str, enum=["json", "csv"])],
        responses={
            200: paginated(OptimizationResultOutputSerializer),
            (200, "text/csv"): OpenApiResponse(str),
        },
    )
    def get(self, request: Request, pk: int) -> Any:
        optimization = selectors.optimization_get(user=request.user, pk=pk)
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        order = filters.validated_data.get("order")
        rows = selectors.optimization_results(
            optimization=optimization,
            sort=filters.validated_data["sort"],
            descending=None if order is None else order == "desc",
        )
        if request.accepted_renderer.format == "csv":
            response = StreamingHttpResponse(
                selectors.results_csv_rows(optimization, rows.iterator()), content_type="text/csv"
            )
            response["Content-Disposition"] = (
                f'attachment; filename="optimization-{optimization.pk}-results.csv"'
            )
            return response
        paginator = PageNumberPagination()
        page: list[Any] | None = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(
            OptimizationResultOutputSerializer(page, many=True).data
        )


class OptimizationCancelApi(APIView):
    permission_classes = [IsTrader]

    @extend_schema(
        tags=TAGS, request=None, responses={202: OptimizationOutputSerializer, 409: None}
    )
    def post(self, request: Request, pk: int) -> Response:
        optimization = services.optimization_cancel(
            optimization=selectors.optimization_get(user=request.user, pk=pk)
        )
        return Response(
            OptimizationOutputSerializer(optimization).data, status=status.HTTP_202_ACCEPTED
        )


class OptimizationResultBacktestApi(APIView):
    permission_classes = [IsTrader]

    @extend_schema(
        tags=TAGS, request=None, responses={202: BacktestOutputSerializer, 400: None, 429: None}
    )
    def post(self, request: Request, pk: int, index: int) -> Response:
        optimization = selectors.optimization_get(user=request.user, pk=pk)
        result = OptimizationResult.objects.filter(optimization=optimization, index=index).first()
        if result is None:
            raise NotFoundError("This sweep has no such combination.")
        backtest = services.optimization_result_backtest(
            optimization=optimization, result=result, owner=request.user
        )
        location = reverse("api-backtest-detail", args=[backtest.pk])
        return Response(
            BacktestOutputSerializer(backtest).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": location},
        )
