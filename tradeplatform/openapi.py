"""OpenAPI schema generation shared by every app: names, pages and the error envelope.

The schema must say what the API really answers (tests/tradeplatform/test_schema_conformance.py
checks real responses against it):

- Lists paginated with PageNumberPagination declare `responses=paginated(ItemSerializer)`:
  the page object `{count, next, previous, results}` and the `page` query parameter.
- Every operation declares the error envelope (`Error`) for the statuses it can answer,
  added here by rule so no endpoint can forget one (see `_error_statuses`). An API declares
  only what no rule can know, such as `409: None` for a conflict its service raises;
  every error status declared without a body gets the envelope too.
"""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ComponentRegistry
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import SAFE_METHODS, AllowAny, IsAuthenticated

ERROR_MEDIA_TYPE = "application/json"
# Neither can refuse a signed-in user; any other permission class may answer 403.
_NEVER_REFUSE_A_SIGNED_IN_USER = (AllowAny, IsAuthenticated)
_ERROR_DESCRIPTIONS = {
    400: "The request is not valid (`validation_error`: `details` holds the field errors).",
    401: "Not signed in, or the credentials or token are not valid.",
    403: "Signed in but not allowed (role, two-factor, a read-only object, CSRF).",
    404: "No such object, or not one you can see.",
    409: "The request conflicts with the object's current state.",
    413: "The request body is too large.",
    415: "The request body's media type is not accepted.",
    429: "Too many requests or over a quota; Retry-After says when to try again.",
    503: "A service this request needs (database, cache, broker) is unavailable; retry.",
}
_NO_BODY = "No response body"  # drf-spectacular's description of `409: None`
_HEADERS = {
    401: {
        "WWW-Authenticate": {
            "description": "The authentication scheme to use: `Bearer`.",
            "required": True,
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds to wait before retrying.",
            "schema": {"type": "integer"},
        }
    },
}


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. `not_found`.")
    message = serializers.CharField(help_text="A human-readable explanation.")
    details = serializers.JSONField(
        allow_null=True, help_text="Field errors for `validation_error`; else context or null."
    )
    request_id = serializers.CharField(help_text="Quote it when reporting a problem.")


class ErrorSerializer(serializers.Serializer):
    """The JSON envelope of every API error."""

    error = ErrorDetailSerializer()


class PageSerializer(serializers.ListSerializer):
    """Marks a response as one page of PageNumberPagination (see `paginated`)."""


def paginated(item_serializer: type[serializers.BaseSerializer]) -> PageSerializer:
    """The response of a list paginated with PageNumberPagination, for `extend_schema`."""
    return PageSerializer(child=item_serializer())


def with_fields(
    base: type[serializers.Serializer], name: str, **fields: serializers.Field
) -> type[serializers.Serializer]:
    """`base` plus the fields an API adds to its answer, to declare in `extend_schema`."""
    attrs: dict[str, Any] = {"__module__": base.__module__, **fields}
    return type(f"{name}Serializer", (base,), attrs)


class TradePlatformAutoSchema(AutoSchema):
    """Component names from the API class, declared pages and the error envelope by rule."""

    def get_serializer_name(
        self, serializer: Any, direction: Literal["request", "response"]
    ) -> str:
        # Our API classes nest `InputSerializer`/`OutputSerializer` (one clear shape per
        # endpoint); without this every one of them would claim the name "Input" or "Output".
        name = super().get_serializer_name(serializer, direction)
        outer = type(serializer).__qualname__.split(".")[:-1]
        if outer and name.startswith(("Input", "Output")):
            return outer[-1].removesuffix("Api") + name
        return name

    def get_operation(
        self,
        path: str,
        path_regex: str,
        path_prefix: str,
        method: str,
        registry: ComponentRegistry,
    ) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is not None:
            self._add_error_responses(operation)
        return operation

    # drf-spectacular asks the view's `pagination_class`; our APIViews paginate in the
    # handler, so the declared `paginated(...)` response is what says a list is paged.
    def _get_paginator(self) -> PageNumberPagination | None:
        return PageNumberPagination() if self._declares_a_page() else super()._get_paginator()

    def _get_pagination_parameters(self) -> list[dict[str, Any]]:
        if self._declares_a_page():
            return PageNumberPagination().get_schema_operation_parameters(self.view)
        return super()._get_pagination_parameters()

    def _declares_a_page(self) -> bool:
        declared = self.get_response_serializers()
        candidates = declared.values() if isinstance(declared, dict) else [declared]
        return any(isinstance(candidate, PageSerializer) for candidate in candidates)

    def _add_error_responses(self, operation: dict[str, Any]) -> None:
        responses: dict[str, Any] = operation["responses"]
        declared = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
        envelope = self.resolve_serializer(ErrorSerializer(), "response").ref
        for status in sorted(declared | self._error_statuses(operation)):
            response = responses.setdefault(str(status), {})
            if response.get("description", _NO_BODY) == _NO_BODY:  # keep a declared one
                response["description"] = _ERROR_DESCRIPTIONS.get(status, "Error.")
            response["content"] = {ERROR_MEDIA_TYPE: {"schema": envelope}}
            if status in _HEADERS:
                response["headers"] = _HEADERS[status]
        operation["responses"] = dict(sorted(responses.items()))

    def _error_statuses(self, operation: dict[str, Any]) -> set[int]:
        """The errors any operation of this shape can answer, whatever its service does."""
        # Every /api/ request is rate-limited (tradeplatform/ratelimit.py) and needs the
        # database; sign-in also fails closed without the cache: 429 and 503 everywhere.
        # Any request target can be malformed before a view sees it (a NUL byte, more query
        # parameters than DATA_UPLOAD_MAX_NUMBER_FIELDS: tradeplatform/middleware.py): 400.
        statuses = {400, 429, 503}
        parameters = operation.get("parameters", [])
        if "requestBody" in operation:
            statuses |= {413, 415}
        # PageNumberPagination answers 404 for a page that is not a number or out of range.
        page = {PageNumberPagination.page_query_param} if self._declares_a_page() else set()
        if page or any(p["in"] == "path" for p in parameters):
            statuses.add(404)
        if {} not in operation.get("security", [{}]):  # anonymous callers are refused
            statuses.add(401)
            if self.method not in SAFE_METHODS or not all(
                isinstance(p, _NEVER_REFUSE_A_SIGNED_IN_USER) for p in self.view.get_permissions()
            ):
                statuses.add(403)  # a role, two-factor, or CSRF on a session's unsafe request
        return statuses
