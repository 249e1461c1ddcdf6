"""REST API of backtest jobs (mounted under /api/v1/). Thin: parse, call one service, shape."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsTrader, IsTraderOrReadOnly, IsViewer
from backtesting import selectors, services
from backtesting.marketdata.timeframes import Timeframe
from backtesting.models import Backtest, BacktestStatus
from backtesting.results import trades_csv_rows
from strategies.models import StrategyVersion
from strategies.selectors import strategy_get
from tradeplatform.errors import NotFoundError
from tradeplatform.openapi import paginated, with_fields

TAGS = ["backtests"]


class BacktestOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    progress = serializers.FloatField()
    strategy = serializers.IntegerField(source="strategy_version.strategy_id")
    strategy_version = serializers.IntegerField(source="strategy_version.number")
    instruments = serializers.ListField(source="symbols", child=serializers.CharField())
    timeframe = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    parameters = serializers.DictField()
    settings = serializers.DictField()
    queued_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    error_code = serializers.CharField()
    error_message = serializers.CharField()
    rerun_of = serializers.IntegerField(source="rerun_of_id", allow_null=True)


class ProvenanceSerializer(serializers.Serializer):
    engine_version = serializers.CharField()
    code_sha256 = serializers.CharField()
    data_fingerprint = serializers.CharField()
    data_versions = serializers.DictField()
    parameters = serializers.DictField()
    request_id = serializers.CharField()


class BacktestDetailOutputSerializer(BacktestOutputSerializer):
    metrics = serializers.DictField(allow_null=True)
    error_details = serializers.DictField()
    provenance = ProvenanceSerializer(source="*")
    bars_processed = serializers.IntegerField()
    timings = serializers.DictField()
    same_data_as_original = serializers.SerializerMethodField()

    def get_same_data_as_original(self, backtest: Backtest) -> bool | None:
        # rerun_of is select_related: no extra query. None until both have run, and None
        # (unknown) when the two fingerprints hashed different bar codec versions.
        original = backtest.rerun_of
        if original is None or not original.data_fingerprint or not backtest.data_fingerprint:
            return None
        if original.data_fingerprint_version != backtest.data_fingerprint_version:
            return None
        return original.data_fingerprint == backtest.data_fingerprint


@extend_schema_field({"type": "string", "enum": [tf.value for tf in Timeframe]})
class TimeframeField(serializers.CharField):
    """Parsed as text: backtest_submit alone decides which timeframes exist (400 otherwise)."""


class BacktestListCreateApi(APIView):
    permission_classes = [IsTraderOrReadOnly]

    class InputSerializer(serializers.Serializer):
        strategy = serializers.IntegerField()
        version = serializers.IntegerField(required=False, min_value=1)
        instruments = serializers.ListField(
            child=serializers.CharField(max_length=32), min_length=1, max_length=20
        )
        timeframe = TimeframeField(max_length=8)
        start = serializers.DateTimeField()
        end = serializers.DateTimeField()
        parameters = serializers.DictField(required=False, default=dict)
        settings = serializers.DictField(required=False, default=dict)

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=BacktestStatus.choices, required=False)
        strategy = serializers.IntegerField(required=False)
        instrument = serializers.CharField(required=False)

    @extend_schema(
        tags=TAGS,
        parameters=[FilterSerializer],
        responses=paginated(BacktestOutputSerializer),
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        qs = selectors.backtest_list(
            user=request.user,
            status=f.get("status"),
            strategy_id=f.get("strategy"),
            instrument=f.get("instrument"),
        )
        paginator = PageNumberPagination()
        page: list[Any] | None = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(BacktestOutputSerializer(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        request=InputSerializer,
        responses={202: BacktestOutputSerializer, 400: None, 404: None, 429: None},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        backtest = services.backtest_submit(
            owner=request.user, data=_input(request, serializer.validated_data)
        )
        return _accepted(backtest)


def _input(request: Request, data: dict[str, Any]) -> services.BacktestInput:
    return services.BacktestInput(
        strategy_version=_strategy_version(request, data["strategy"], data.get("version")),
        symbols=[s.strip().upper() for s in data["instruments"]],
        timeframe=data["timeframe"],
        start=data["start"],
        end=data["end"],
        parameters=data["parameters"],
        settings=data["settings"],
    )


def _strategy_version(request: Request, strategy_id: int, number: int | None) -> StrategyVersion:
    """The version asked for (else the latest); who may run it is backtest_submit's rule."""
    versions = StrategyVersion.objects.filter(strategy_id=strategy_id).order_by("-number")
    version = versions.filter(number=number).first() if number else versions.first()
    if version is None:
        # Only to word the 404 as before without telling whether someone else's strategy exists.
        strategy_get(user=request.user, pk=strategy_id)
        raise NotFoundError("This strategy has no such version.")
    return version


def _accepted(backtest: Backtest, extra: dict[str, Any] | None = None) -> Response:
    location = reverse("api-backtest-detail", args=[backtest.pk])
    body = {**BacktestOutputSerializer(backtest).data, **(extra or {})}
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location})


class BacktestDetailApi(APIView):
    permission_classes = [IsTraderOrReadOnly]  # DELETE is a write: traders only

    @extend_schema(tags=TAGS, responses=BacktestDetailOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        backtest = selectors.backtest_get(user=request.user, pk=pk, with_result=True)
        return Response(BacktestDetailOutputSerializer(backtest).data)

    @extend_schema(tags=TAGS, responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.backtest_delete(backtest=selectors.backtest_get(user=request.user, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class BacktestEquityApi(APIView):
    permission_classes = [IsViewer]

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        status = serializers.CharField()
        timestamps = serializers.ListField(child=serializers.CharField())
        equity = serializers.ListField(child=serializers.FloatField(allow_null=True))
        drawdown = serializers.ListField(child=serializers.FloatField(allow_null=True))

    @extend_schema(tags=TAGS, responses=OutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        backtest = selectors.backtest_get(user=request.user, pk=pk, with_result=True)
        curve = backtest.equity_curve or {"timestamps": [], "equity": [], "drawdown": []}
        return Response({"id": backtest.pk, "status": backtest.status, **curve})


class CsvRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        # Never called: trades stream through trades_csv_rows, errors render as JSON.
        return b""


class TradeOutputSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    symbol = serializers.CharField()
    direction = serializers.CharField()
    size = serializers.FloatField()
    entry_time = serializers.DateTimeField()
    entry_price = serializers.FloatField()
    exit_time = serializers.DateTimeField(allow_null=True)
    exit_price = serializers.FloatField(allow_null=True)
    gross_pnl = serializers.FloatField(allow_null=True)
    net_pnl = serializers.FloatField(allow_null=True)
    net_pnl_pct = serializers.FloatField(allow_null=True)
    fees = serializers.FloatField()
    bars_held = serializers.IntegerField()
    exit_reason = serializers.CharField()
    tag = serializers.CharField()
    is_open = serializers.BooleanField()


class BacktestTradesApi(APIView):
    permission_classes = [IsViewer]
    renderer_classes = [JSONRenderer, CsvRenderer]

    @extend_schema(
        tags=TAGS,
        parameters=[OpenApiParameter("format", str, enum=["json", "csv"])],
        responses={200: paginated(TradeOutputSerializer), (200, "text/csv"): OpenApiResponse(str)},
    )
    def get(self, request: Request, pk: int) -> Any:
        backtest = selectors.backtest_get(user=request.user, pk=pk)
        trades = selectors.backtest_trades(backtest=backtest)
        if request.accepted_renderer.format == "csv":
            response = StreamingHttpResponse(
                trades_csv_rows(trades.iterator()), content_type="text/csv"
            )
            response["Content-Disposition"] = (
                f'attachment; filename="backtest-{backtest.pk}-trades.csv"'
            )
            return response
        paginator = PageNumberPagination()
        page: list[Any] | None = paginator.paginate_queryset(trades, request, view=self)
        return paginator.get_paginated_response(TradeOutputSerializer(page, many=True).data)


class BacktestCancelApi(APIView):
    permission_classes = [IsTrader]

    @extend_schema(tags=TAGS, request=None, responses={202: BacktestOutputSerializer, 409: None})
    def post(self, request: Request, pk: int) -> Response:
        backtest = services.backtest_cancel(
            backtest=selectors.backtest_get(user=request.user, pk=pk)
        )
        return Response(BacktestOutputSerializer(backtest).data, status=status.HTTP_202_ACCEPTED)


class BacktestRerunApi(APIView):
    permission_classes = [IsTrader]

    # 400: the inputs no longer validate (e.g. the market data is gone).
    @extend_schema(
        tags=TAGS,
        request=None,
        responses={
            202: with_fields(
                BacktestOutputSerializer,
                "BacktestRerunOutput",
                data_changed_since_original=serializers.BooleanField(allow_null=True),
            ),
            400: None,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        original = selectors.backtest_get(user=request.user, pk=pk)
        rerun = services.backtest_rerun(backtest=original, owner=request.user)
        # Known now from the series versions; the new run's fingerprint confirms it later.
        return _accepted(
            rerun, {"data_changed_since_original": services.data_changed_since(original)}
        )
