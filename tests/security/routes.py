"""The project's URL conf and OpenAPI schema as flat lists, so suites can cover them all."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator

# Captured parts of a route: "<int:pk>", "<str:symbol>", and regex groups "(?P<rest>…)".
_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>")


@dataclass(frozen=True)
class Route:
    pattern: str  # as written in the URL conf, joined: "api/v1/strategies/<int:pk>/"
    name: str  # namespaced: "strategies:detail"

    @property
    def is_api(self) -> bool:
        return self.pattern.startswith("api/v1/")

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(a or b for a, b in _PARAMETER.findall(self.pattern))

    def path(self, **values: object) -> str:
        """The URL path with each parameter replaced by its value."""
        return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), self.pattern)


def project_routes() -> list[Route]:
    """Every route of the project, the admin's own excepted (Django's, tested upstream)."""
    return [
        r for r in _walk(get_resolver().url_patterns, "", "") if not r.pattern.startswith("admin/")
    ]


def _walk(patterns: list, prefix: str, namespace: str) -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            yield Route(prefix + str(entry.pattern), f"{namespace}{entry.name or ''}")


@functools.cache
def openapi_schema() -> dict[str, Any]:
    """The API's OpenAPI document, as /api/schema/ serves it."""
    return SchemaGenerator().get_schema(request=None, public=True)


def schema_writes() -> set[tuple[str, str]]:
    """(method, path) of every operation of the schema that takes a body."""
    schema = openapi_schema()
    return {
        (method, path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in ("post", "put", "patch")
    }
