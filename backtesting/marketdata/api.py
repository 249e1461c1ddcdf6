"""Market-data API: instruments, their bars (JSON or CSV), and bar imports for operators."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsOperator, IsViewer
from backtesting.engine import BarSeries
from backtesting.marketdata.models import AssetClass, Instrument
from backtesting.marketdata.pagination import decode_cursor, next_link
from backtesting.marketdata.renderers import BarsCSVRenderer
from backtesting.marketdata.selectors import bars_page, instrument_get
from backtesting.marketdata.services import bars_import
from backtesting.marketdata.timeframes import TIMEFRAME_CHOICES, Timeframe
from backtesting.marketdata.writes import ns_to_datetime
from tradeplatform.openapi import paginated

MAX_BARS_PAGE = 10_000


TAGS = ["market data"]


class InstrumentOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Instrument
        fields = [
            "symbol",
            "name",
            "asset_class",
            "exchange",
            "currency",
            "timezone",
            "price_tick",
            "is_active",
        ]


class InstrumentListApi(APIView):
    permission_classes = [IsViewer]

    class FilterSerializer(serializers.Serializer):
        asset_class = serializers.ChoiceField(choices=AssetClass.choices, required=False)
        search = serializers.CharField(required=False, max_length=100)

    @extend_schema(
        tags=TAGS,
        parameters=[FilterSerializer],
        responses=paginated(InstrumentOutputSerializer),
        summary="List instruments (filter by asset class, search symbol/name; page-numbered)",
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        qs = Instrument.objects.all()
        if "asset_class" in filters.validated_data:
            qs = qs.filter(asset_class=filters.validated_data["asset_class"])
        if filters.validated_data.get("search"):
            qs = qs.search(filters.validated_data["search"])
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(InstrumentOutputSerializer(page, many=True).data)


class InstrumentDetailApi(APIView):
    permission_classes = [IsViewer]

    @extend_schema(
        tags=TAGS, responses=InstrumentOutputSerializer, summary="One instrument by symbol"
    )
    def get(self, request: Request, symbol: str) -> Response:
        return Response(InstrumentOutputSerializer(instrument_get(symbol)).data)


class BarOutputSerializer(serializers.Serializer):
    timestamp = serializers.DateTimeField()
    open = serializers.FloatField()
    high = serializers.FloatField()
    low = serializers.FloatField()
    close = serializers.FloatField()
    volume = serializers.FloatField()


def bars_as_rows(bars: BarSeries) -> list[dict[str, Any]]:
    columns = [
        bars.open.tolist(),
        bars.high.tolist(),
        bars.low.tolist(),
        bars.close.tolist(),
        bars.volume.tolist(),
    ]
    keys = ("timestamp", "open", "high", "low", "close", "volume")
    return [
        dict(zip(keys, row, strict=True))
        for row in zip(bars_timestamps_iso(bars.timestamps), *columns, strict=True)
    ]


def bars_timestamps_iso(timestamps: np.ndarray) -> list[str]:
    """ISO 8601 UTC strings ("2012-01-03T00:00:00Z"), as datetime.isoformat() writes them.

    Whole seconds (every stored bar so far) are formatted by NumPy in one call, which is most
    of what a page of bars costs otherwise; anything finer keeps the per-bar path, because
    isoformat() adds microseconds only to the bars that have them.
    """
    if not np.any(timestamps % 1_000_000_000):
        seconds = timestamps.astype("datetime64[ns]").astype("datetime64[s]")
        iso = np.datetime_as_string(seconds, unit="s")
        return [f"{text}Z" for text in iso.tolist()]
    return [ns_to_datetime(t).isoformat().replace("+00:00", "Z") for t in timestamps.tolist()]


class InstrumentBarsApi(APIView):
    permission_classes = [IsViewer]
    renderer_classes = [JSONRenderer, BarsCSVRenderer]

    class FilterSerializer(serializers.Serializer):
        timeframe = serializers.ChoiceField(choices=TIMEFRAME_CHOICES, default=Timeframe.D1.value)
        start = serializers.DateTimeField(required=False)
        end = serializers.DateTimeField(required=False)
        limit = serializers.IntegerField(
            required=False, min_value=1, max_value=MAX_BARS_PAGE, default=1000
        )
        cursor = serializers.CharField(required=False)

    @extend_schema(
        tags=TAGS,
        parameters=[
            FilterSerializer,
            OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"]),
        ],
        responses={
            200: inline_serializer(
                "BarPage",
                {
                    "symbol": serializers.CharField(),
                    "timeframe": serializers.CharField(),
                    "next": serializers.URLField(allow_null=True),
                    "results": BarOutputSerializer(many=True),
                },
            ),
            (200, "text/csv"): OpenApiTypes.STR,
        },
        summary="Bars in a range; timestamp-cursor paginated; JSON or CSV (Accept or ?format=csv)",
    )
    def get(self, request: Request, symbol: str) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        instrument = instrument_get(symbol)
        bars, next_ns = bars_page(
            instrument,
            Timeframe(data["timeframe"]),
            start=data.get("start"),
            end=data.get("end"),
            after_ns=decode_cursor(data.get("cursor")),
            limit=data["limit"],
        )
        link = next_link(request, next_ns)
        body = {
            "symbol": instrument.symbol,
            "timeframe": data["timeframe"],
            "next": link,
            "results": bars_as_rows(bars),
        }
        return Response(body, headers={"Link": f'<{link}>; rel="next"'} if link else None)


class ImportReportSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    timeframe = serializers.CharField()
    rows_read = serializers.IntegerField()
    rows_valid = serializers.IntegerField()
    rows_rejected = serializers.IntegerField()
    inserted = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    version = serializers.IntegerField(allow_null=True)
    first = serializers.DateTimeField(allow_null=True)
    last = serializers.DateTimeField(allow_null=True)
    rejected = serializers.ListField(child=serializers.DictField())
    warnings = serializers.ListField(child=serializers.DictField())


def validate_tz(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise serializers.ValidationError("Unknown time zone.") from None


class InstrumentBarsImportApi(APIView):
    permission_classes = [IsOperator]
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField()
        timeframe = serializers.ChoiceField(choices=TIMEFRAME_CHOICES, default=Timeframe.D1.value)
        tz = serializers.CharField(required=False, validators=[validate_tz])
        skip_invalid = serializers.BooleanField(default=False)
        adjusted = serializers.BooleanField(default=False)
        max_gap = serializers.IntegerField(required=False, min_value=0)

        def validate_file(self, value: Any) -> Any:
            if value.size > settings.MARKETDATA_MAX_UPLOAD_BYTES:
                raise serializers.ValidationError("The file is too large.")
            return value

    @extend_schema(
        tags=TAGS,
        request=InputSerializer,
        responses={
            200: ImportReportSerializer,
            400: OpenApiResponse(
                description="error envelope; for an invalid file `details` is the validation report"
            ),
        },
        summary="Import a CSV (or .csv.gz) of bars (operators); nothing is written unless valid",
    )
    def post(self, request: Request, symbol: str) -> Response:
        instrument = instrument_get(symbol)
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        report = bars_import(
            instrument=instrument,
            source=data["file"],
            timeframe=data["timeframe"],
            tz_name=data.get("tz"),
            skip_invalid=data["skip_invalid"],
            use_adj_close=data["adjusted"],
            max_missing=data.get("max_gap"),
        )
        return Response(report.as_dict())
