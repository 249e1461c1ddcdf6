"""OpenAPI schema generation tweaks shared by every app."""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular.openapi import AutoSchema


class TradePlatformAutoSchema(AutoSchema):
    """Name nested Input/Output serializers after the API class that holds them.

    Our API classes nest `InputSerializer`/`OutputSerializer` (one clear shape per endpoint);
    without this every one of them would claim the component name "Input" or "Output".
    """

    def get_serializer_name(
        self, serializer: Any, direction: Literal["request", "response"]
    ) -> str:
        name = super().get_serializer_name(serializer, direction)
        outer = type(serializer).__qualname__.split(".")[:-1]
        if outer and name.startswith(("Input", "Output")):
            return outer[-1].removesuffix("Api") + name
        return name
