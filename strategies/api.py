"""REST API of the strategies app (mounted under /api/v1/).

Thin classes: parse with the nested input serializer, call one service or selector,
shape with the nested output serializer. Scoping (404 for another user's private
strategy, 403 for a shared one they may only read) lives in strategies.selectors;
roles and quotas in strategies.services. One class per URL: DRF routes the methods
of one path to one view, and the OpenAPI schema needs to see them together.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import has_operator_access
from accounts.permissions import IsTrader, IsTraderOrReadOnly, IsViewer
from strategies import selectors, services
from strategies.library import example_list
from strategies.models import Strategy
from strategies.paramspec import PARAMETER_TYPES
from strategies.validation import MAX_CODE_BYTES
from tradeplatform.openapi import paginated

TAGS = ["strategies"]


@extend_schema_field(OpenApiTypes.NUMBER)
class ParameterBoundField(serializers.Field):
    """A bound as declared: an int parameter's bounds stay ints (10, not 10.0) in JSON."""

    def to_representation(self, value: int | float) -> int | float:
        return value


# A ParameterSpec.to_dict() (strategies.paramspec): what a version stores, what the form reads.
class ParameterSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=list(PARAMETER_TYPES))
    default = serializers.JSONField()
    min = ParameterBoundField(allow_null=True)
    max = ParameterBoundField(allow_null=True)
    step = ParameterBoundField(allow_null=True)
    choices = serializers.ListField(child=serializers.JSONField(), allow_null=True)
    description = serializers.CharField(allow_blank=True)


class ProblemSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    column = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()


def _code_field(**kwargs: Any) -> serializers.CharField:
    # Whitespace is significant in Python; never trim it.
    return serializers.CharField(trim_whitespace=False, max_length=MAX_CODE_BYTES, **kwargs)


class StrategyOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    shared = serializers.BooleanField(source="is_shared")
    owner = serializers.CharField(source="owner.username")
    latest_version = serializers.IntegerField(source="latest_version_number")
    can_edit = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_can_edit(self, strategy: Strategy) -> bool:
        user = self.context["request"].user
        return strategy.owner_id == user.pk or has_operator_access(user)


class VersionOutputSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    code_sha256 = serializers.CharField()
    class_name = serializers.CharField()
    parameters = ParameterSerializer(many=True)
    author = serializers.CharField(source="author.username", allow_null=True, default=None)
    created_at = serializers.DateTimeField()


class VersionDetailOutputSerializer(VersionOutputSerializer):
    code = serializers.CharField()


class StrategyDetailOutputSerializer(StrategyOutputSerializer):
    cloned_from = serializers.SerializerMethodField()
    version = VersionDetailOutputSerializer(source="latest")

    def get_cloned_from(self, strategy: Strategy) -> int | None:
        return strategy.cloned_from.strategy_id if strategy.cloned_from else None


def strategy_detail_data(request: Request, strategy: Strategy) -> dict[str, Any]:
    """The detail JSON: the strategy plus its latest version (code and parameters)."""
    latest = selectors.strategy_version_latest(strategy=strategy)
    strategy.latest = latest  # type: ignore[attr-defined]
    strategy.latest_version_number = latest.number  # type: ignore[attr-defined]
    return StrategyDetailOutputSerializer(strategy, context={"request": request}).data


class StrategyCollectionApi(APIView):
    """GET: the strategies you can read. POST: create one (traders and operators)."""

    permission_classes = [IsTraderOrReadOnly]

    class CreateInputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)
        description = serializers.CharField(max_length=2000, allow_blank=True, default="")
        code = _code_field()
        shared = serializers.BooleanField(default=False)

    @extend_schema(tags=TAGS, responses=paginated(StrategyOutputSerializer))
    def get(self, request: Request) -> Response:
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(
            selectors.strategy_list(user=request.user), request, view=self
        )
        data = StrategyOutputSerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)

    @extend_schema(
        tags=TAGS, request=CreateInputSerializer, responses={201: StrategyDetailOutputSerializer}
    )
    def post(self, request: Request) -> Response:
        serializer = self.CreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        strategy = services.strategy_create(owner=request.user, **serializer.validated_data)
        return Response(strategy_detail_data(request, strategy), status=status.HTTP_201_CREATED)


class StrategyDetailApi(APIView):
    """GET one strategy; PATCH it (changed code makes a new version); DELETE archives it."""

    permission_classes = [IsTraderOrReadOnly]

    class UpdateInputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100, required=False)
        description = serializers.CharField(max_length=2000, allow_blank=True, required=False)
        code = _code_field(required=False)
        shared = serializers.BooleanField(required=False)

    class UpdateOutputSerializer(StrategyDetailOutputSerializer):
        version_created = serializers.BooleanField()

    @extend_schema(tags=TAGS, responses=StrategyDetailOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        strategy = selectors.strategy_get(user=request.user, pk=pk)
        return Response(strategy_detail_data(request, strategy))

    @extend_schema(tags=TAGS, request=UpdateInputSerializer, responses=UpdateOutputSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        serializer = self.UpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        strategy = selectors.strategy_get_editable(user=request.user, pk=pk)
        version = services.strategy_update(
            strategy=strategy, user=request.user, **serializer.validated_data
        )
        return Response(
            {**strategy_detail_data(request, strategy), "version_created": version is not None}
        )

    @extend_schema(tags=TAGS, responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        strategy = selectors.strategy_get_editable(user=request.user, pk=pk)
        services.strategy_delete(strategy=strategy, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StrategyVersionListApi(APIView):
    permission_classes = [IsViewer]

    @extend_schema(tags=TAGS, responses=paginated(VersionOutputSerializer))
    def get(self, request: Request, pk: int) -> Response:
        strategy = selectors.strategy_get(user=request.user, pk=pk)
        paginator = PageNumberPagination()
        versions = strategy.versions.select_related("author").order_by("-number")
        page = paginator.paginate_queryset(versions, request, view=self)
        return paginator.get_paginated_response(VersionOutputSerializer(page, many=True).data)


class StrategyVersionDetailApi(APIView):
    permission_classes = [IsViewer]

    @extend_schema(tags=TAGS, responses=VersionDetailOutputSerializer)
    def get(self, request: Request, pk: int, number: int) -> Response:
        strategy = selectors.strategy_get(user=request.user, pk=pk)
        version = selectors.strategy_version_get(strategy=strategy, number=number)
        return Response(VersionDetailOutputSerializer(version).data)


class StrategyVersionDiffApi(APIView):
    """Unified diff (difflib) from version `against` (default: the previous one) to `number`."""

    permission_classes = [IsViewer]

    class FilterSerializer(serializers.Serializer):
        against = serializers.IntegerField(min_value=1, required=False)

    class OutputSerializer(serializers.Serializer):
        from_version = serializers.IntegerField(source="from_number")
        to_version = serializers.IntegerField(source="to_number")
        diff = serializers.CharField(source="unified")

    @extend_schema(
        tags=TAGS,
        parameters=[OpenApiParameter("against", int, description="Version to compare with")],
        responses=OutputSerializer,
    )
    def get(self, request: Request, pk: int, number: int) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        strategy = selectors.strategy_get(user=request.user, pk=pk)
        diff = selectors.strategy_version_diff(
            strategy=strategy, number=number, against=filters.validated_data.get("against")
        )
        return Response(self.OutputSerializer(diff).data)


class StrategyValidateApi(APIView):
    """Validate code without storing it: 200 with the parameters, or 400 with every problem."""

    permission_classes = [IsViewer]

    class InputSerializer(serializers.Serializer):
        code = _code_field()

    class OutputSerializer(serializers.Serializer):
        ok = serializers.BooleanField()
        class_name = serializers.CharField()
        parameters = ParameterSerializer(many=True)
        problems = ProblemSerializer(many=True)

    @extend_schema(tags=TAGS, request=InputSerializer, responses=OutputSerializer)
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        verdict = services.strategy_code_check(serializer.validated_data["code"])
        return Response(verdict.to_dict())


class StrategyCloneApi(APIView):
    """Copy a shared strategy (its latest version) into a new private strategy of yours."""

    permission_classes = [IsTrader]

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100, required=False)

    @extend_schema(
        tags=TAGS, request=InputSerializer, responses={201: StrategyDetailOutputSerializer}
    )
    def post(self, request: Request, pk: int) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        source = selectors.strategy_get(user=request.user, pk=pk)
        clone = services.strategy_clone(
            strategy=source, new_owner=request.user, name=serializer.validated_data.get("name")
        )
        return Response(strategy_detail_data(request, clone), status=status.HTTP_201_CREATED)


class StrategyTemplateListApi(APIView):
    """The example library: ready-made strategies to start from."""

    permission_classes = [IsViewer]

    class OutputSerializer(serializers.Serializer):
        slug = serializers.CharField()
        name = serializers.CharField()
        title = serializers.CharField()
        description = serializers.CharField()
        class_name = serializers.CharField()
        code = serializers.CharField()
        parameters = ParameterSerializer(many=True)

    @extend_schema(tags=TAGS, responses=OutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response([example.to_dict() for example in example_list()])
